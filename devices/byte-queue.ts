/**
 * A FIFO of bytes that grows on demand (a serial line's host side, guest output waiting for the
 * host). Compaction keeps at least half the buffer free, so byte-at-a-time traffic stays O(1)
 * amortised.
 */
export class ByteQueue {
  private buffer = new Uint8Array(256);
  private head = 0;
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  pushByte(byte: number): void {
    if (this.tail === this.buffer.length) this.makeRoom(1);
    this.buffer[this.tail++] = byte;
  }

  push(bytes: ArrayLike<number>): void {
    if (this.tail + bytes.length > this.buffer.length) this.makeRoom(bytes.length);
    for (let i = 0; i < bytes.length; i++) this.buffer[this.tail++] = bytes[i];
  }

  shift(): number {
    return this.buffer[this.head++];
  }

  /** Removes and returns everything queued. */
  takeAll(): Uint8Array {
    const out = this.buffer.slice(this.head, this.tail);
    this.head = this.tail = 0;
    return out;
  }

  toArray(): number[] {
    return Array.from(this.buffer.subarray(this.head, this.tail));
  }

  private makeRoom(extra: number): void {
    const needed = this.length + extra;
    let size = this.buffer.length;
    while (size < 2 * needed) size *= 2;
    const target = size === this.buffer.length ? this.buffer : new Uint8Array(size);
    target.set(this.buffer.subarray(this.head, this.tail));
    this.tail = this.length;
    this.head = 0;
    this.buffer = target;
  }
}
