/**
 * One interrupt request wire between a device and an interrupt controller. The device drives
 * the level; the controller listens for changes (edge-triggered controllers look for 0 -> 1,
 * level-triggered ones sample the level).
 */
export class IrqLine {
  private asserted = false;
  private readonly listeners: ((level: boolean) => void)[] = [];

  constructor(readonly name: string) {}

  get level(): boolean {
    return this.asserted;
  }

  raise(): void {
    this.set(true);
  }

  lower(): void {
    this.set(false);
  }

  /** Drives the line; listeners hear only real changes, so devices may call this freely. */
  set(level: boolean): void {
    if (level === this.asserted) return;
    this.asserted = level;
    for (const listener of this.listeners) listener(level);
  }

  /** A short edge: raise then lower (an already-high line just drops). */
  pulse(): void {
    this.raise();
    this.lower();
  }

  onChange(listener: (level: boolean) => void): void {
    this.listeners.push(listener);
  }
}
