// Watches a guest's serial output for marker strings and keeps, for each, a snapshot taken when
// its last byte arrived (host time, instruction count). The Linux boot test and the benchmark use
// it for every engine (ours, v86, QEMU), so a marker's time means the same thing for all of them.

export class SerialMarkers<T> {
  /** One entry per marker, undefined until the marker has been seen. */
  readonly hits: (T | undefined)[];
  /** The end of the output so far, long enough to hold all but the last byte of any marker. */
  private tail = '';
  private readonly keep: number;

  constructor(readonly markers: readonly string[], private readonly snapshot: () => T) {
    if (markers.some((m) => m.length === 0)) throw new Error('SerialMarkers: empty marker');
    this.hits = markers.map(() => undefined);
    this.keep = Math.max(0, ...markers.map((m) => m.length - 1));
  }

  /** Feeds output bytes as latin1 text (one character per byte); markers it completes are stamped now. */
  feed(text: string): void {
    if (this.seenAll) return;
    const scan = this.tail + text;
    let stamp: T | undefined;
    this.markers.forEach((marker, i) => {
      if (this.hits[i] === undefined && scan.includes(marker)) this.hits[i] = stamp ??= this.snapshot();
    });
    this.tail = this.keep === 0 ? '' : scan.slice(-this.keep);
  }

  get seenAll(): boolean {
    return this.hits.every((h) => h !== undefined);
  }
}

/** The rest of `marker`'s first line in `output` (marker included, line ending excluded), or undefined while the line is incomplete. */
export function markerLine(output: string, marker: string): string | undefined {
  const at = output.indexOf(marker);
  if (at < 0) return undefined;
  const end = output.indexOf('\n', at);
  return end < 0 ? undefined : output.slice(at, end).replace(/\r+$/, '');
}
