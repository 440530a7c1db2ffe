/**
 * What every emulated chip offers the machine: a power-on reset and a snapshot of its state.
 * Snapshots are plain JSON-serialisable data so a whole machine can be saved as one document;
 * host-side listeners and bus wiring are not state and are never part of them.
 */
export interface Device {
  readonly name: string;
  reset(): void;
  saveState(): unknown;
  loadState(state: unknown): void;
}
