// The Linux benchmark's bookkeeping (perf/linux-workload.ts) and the serial marker watcher
// (host/serial-markers.ts), without booting anything.
import { expect } from 'chai';
import { markerLine, SerialMarkers } from '../host/serial-markers.js';
import {
  BOOTED_MARKER, DONE_MARKER, engineTable, parseEngines, phaseRun, ratioTable, roundOrder, summarize, type Engine, type EngineSummary,
} from '../perf/linux-workload.js';

const GOOD_SERIAL = `[    1.0] Run /init as init process\r\n${BOOTED_MARKER}\r\n${DONE_MARKER} loop=20000\r\n[    2.0] reboot: Power down\r\n`;

describe('SerialMarkers', () => {
  it('stamps each marker once, when its last byte arrives, even split across chunks', () => {
    let clock = 0;
    const markers = new SerialMarkers(['AB-C', 'XYZ'], () => clock);
    for (const chunk of ['..A', 'B-', 'C..AB-C XY', 'Z']) {
      clock++;
      markers.feed(chunk);
    }
    expect(markers.hits).to.deep.equal([3, 4]);
    expect(markers.seenAll).to.equal(true);
  });

  it('gives markers completed by the same chunk the same snapshot, and leaves unseen ones undefined', () => {
    let calls = 0;
    const markers = new SerialMarkers(['one', 'two', 'three'], () => ++calls);
    markers.feed('one two');
    expect(markers.hits).to.deep.equal([1, 1, undefined]);
    expect(markers.seenAll).to.equal(false);
  });

  it('refuses an empty marker, which would match before any output', () => {
    expect(() => new SerialMarkers([''], () => 0)).to.throw(/empty marker/);
  });
});

describe('markerLine', () => {
  it('returns the marker\'s line without its line ending once the line is complete', () => {
    expect(markerLine('x\r\nDONE loop=5\r\nnext', 'DONE')).to.equal('DONE loop=5');
    expect(markerLine('x DONE loop=5', 'DONE')).to.equal(undefined);
    expect(markerLine('nothing\n', 'DONE')).to.equal(undefined);
  });
});

describe('perf/linux-workload', () => {
  it('parses --engines: known names, each once, in order', () => {
    expect(parseEngines('qemu, jit,qemu')).to.deep.equal(['qemu', 'jit']);
    expect(() => parseEngines('jit,bochs')).to.throw(/unknown engine 'bochs'/);
    expect(() => parseEngines(' , ')).to.throw(/no engine/);
  });

  it('rotates the engine order by one each round', () => {
    expect([0, 1, 2, 3].map((r) => roundOrder(['a', 'b', 'c'], r))).to.deep.equal([
      ['a', 'b', 'c'], ['b', 'c', 'a'], ['c', 'a', 'b'], ['a', 'b', 'c'],
    ]);
  });

  it('splits a run into boot and loop, with instruction counts only when both markers have one', () => {
    expect(phaseRun([{ wallMs: 1000, instructions: 50 }, { wallMs: 1500, instructions: 80 }], GOOD_SERIAL))
      .to.deep.equal({ bootMs: 1000, loopMs: 500, bootInstructions: 50, loopInstructions: 30 });
    expect(phaseRun([{ wallMs: 1000 }, { wallMs: 1200 }], GOOD_SERIAL))
      .to.deep.equal({ bootMs: 1000, loopMs: 200, bootInstructions: null, loopInstructions: null });
  });

  it('refuses a run without both markers or with a short loop count', () => {
    expect(() => phaseRun([{ wallMs: 1 }, undefined], GOOD_SERIAL)).to.throw(new RegExp(`never printed ${DONE_MARKER}`));
    const short = GOOD_SERIAL.replace('loop=20000', 'loop=1999');
    expect(() => phaseRun([{ wallMs: 1 }, { wallMs: 2 }], short)).to.throw(/loop=1999/);
    const cut = GOOD_SERIAL.slice(0, GOOD_SERIAL.indexOf('loop='));
    expect(() => phaseRun([{ wallMs: 1 }, { wallMs: 2 }], cut)).to.throw(/done line is undefined/);
  });

  it('takes medians per phase, and counts instructions only if every run did', () => {
    const s = summarize([
      { bootMs: 3000, loopMs: 1000, bootInstructions: 30, loopInstructions: 10 },
      { bootMs: 1000, loopMs: 3000, bootInstructions: 10, loopInstructions: null },
      { bootMs: 2000, loopMs: 2000, bootInstructions: 20, loopInstructions: 20 },
    ]);
    expect(s).to.deep.equal({ runs: 3, bootS: 2, loopS: 2, totalS: 4, bootInstructions: 20, loopInstructions: null });
  });

  it('prints ratios only for the pairs that ran, ours over the peer', () => {
    const summary = (bootS: number, loopS: number): EngineSummary =>
      ({ runs: 1, bootS, loopS, totalS: bootS + loopS, bootInstructions: null, loopInstructions: null });
    const summaries = new Map<Engine, EngineSummary>([['jit', summary(3, 1.5)], ['qemu', summary(2, 1)]]);
    expect(ratioTable(summaries)!.split('\n')).to.deep.equal([
      'time ratio  boot  loop  total',
      '----------  ----  ----  -----',
      'JIT / QEMU  1.50  1.50   1.50',
    ]);
    expect(ratioTable(new Map([['jit', summary(1, 1)]]))).to.equal(undefined);
    expect(engineTable(summaries)).to.match(/^QEMU TCG\s+1\s+2\s+1\s+3\s+-\s+-\s+-\s+-$/m);
  });
});
