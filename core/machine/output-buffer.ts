import { ByteQueue } from '../../devices/byte-queue.js';

/** Collects guest output bytes and hands them to listeners in batches (one call per run slice). */
export class OutputBuffer {
  private readonly queue = new ByteQueue();
  private readonly listeners: ((bytes: Uint8Array) => void)[] = [];

  listen(listener: (bytes: Uint8Array) => void): void { this.listeners.push(listener); }

  push(byte: number): void { this.queue.pushByte(byte); }

  flush(): void {
    if (this.queue.length === 0) return;
    const out = this.queue.takeAll();
    for (const l of this.listeners) l(out);
  }
}
