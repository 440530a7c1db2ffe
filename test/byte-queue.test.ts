import { expect } from 'chai';
import { ByteQueue } from '../devices/byte-queue.js';

describe('ByteQueue', () => {
  it('keeps order across growth and compaction', () => {
    const q = new ByteQueue();
    const expected: number[] = [];
    for (let k = 0; k < 5000; k++) {
      q.pushByte(k & 0xff);
      expected.push(k & 0xff);
      if (k % 3 === 0) expect(q.shift()).to.equal(expected.shift());
    }
    q.push([1, 2, 3]);
    expected.push(1, 2, 3);
    expect(q.length).to.equal(expected.length);
    expect(Array.from(q.takeAll())).to.deep.equal(expected);
    expect(q.length).to.equal(0);
  });
});
