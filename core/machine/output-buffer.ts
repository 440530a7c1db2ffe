/** Collects guest output bytes and hands them to listeners in batches (one call per run slice). */
export class OutputBuffer {
  private bytes = new Uint8Array(4096);
  private length = 0;
  private readonly listeners: ((bytes: Uint8Array) => void)[] = [];

  listen(listener: (bytes: Uint8Array) => void): void { this.listeners.push(listener); }

  push(byte: number): void {
    if (this.length === this.bytes.length) {
      const bigger = new Uint8Array(this.bytes.length * 2);
      bigger.set(this.bytes);
      this.bytes = bigger;
    }
    this.bytes[this.length++] = byte;
  }

  flush(): void {
    if (this.length === 0) return;
    const out = this.bytes.slice(0, this.length);
    this.length = 0;
    for (const l of this.listeners) l(out);
  }
}
