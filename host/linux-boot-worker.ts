// Worker-thread entry: boots Linux with the options in workerData and posts the LinuxBoot back.
import { parentPort, workerData } from 'node:worker_threads';
import { bootLinux, type LinuxBootOptions } from './linux-boot.js';

const boot = bootLinux(workerData as LinuxBootOptions);
parentPort?.postMessage(boot);
