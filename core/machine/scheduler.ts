export type TimerCallback = (nowNs: number) => void;

interface TimerEvent {
  readonly atNs: number;
  /** Also the scheduling order, which breaks deadline ties. */
  readonly handle: number;
  readonly callback: TimerCallback;
  readonly label: string;
  heapIndex: number;
}

/**
 * Deadlines on a virtual clock (nanoseconds, float64: exact to the nanosecond for ~104 days).
 * Nothing here reads the wall clock; time moves only when the run loop calls advanceTo, so the
 * same guest with the same input behaves the same on every run. Pending events sit in a binary
 * min-heap ordered by (deadline, scheduling order); each event knows its heap slot so cancel is
 * O(log n) and no dead entries pile up when devices reprogram timers often.
 */
export class Scheduler {
  private clockNs = 0;
  private nextHandle = 1;
  private readonly heap: TimerEvent[] = [];
  private readonly byHandle = new Map<number, TimerEvent>();
  private advancing = false;

  /** Where time stands between advances (the run loop's instruction clock); null: the last advance. */
  private liveClock: (() => number) | null = null;
  /** Called when an event is scheduled ahead of every pending one, so a running slice can end early. */
  onEarlierDeadline: (() => void) | null = null;

  /**
   * Lets devices read the time of the running instruction rather than of the last advance
   * (a guest polling a timer inside one run slice must see it move). Callbacks still see
   * their own deadline.
   */
  attachClock(clock: () => number): void {
    this.liveClock = clock;
  }

  get nowNs(): number {
    if (this.advancing || this.liveClock === null) return this.clockNs;
    return Math.max(this.clockNs, this.liveClock());
  }

  /** Runs `callback` at virtual time `atNs`; a deadline already past runs at the next advance. */
  schedule(atNs: number, callback: TimerCallback, label: string): number {
    if (!Number.isFinite(atNs)) throw new Error(`Scheduler: event "${label}" has no finite deadline (${atNs})`);
    const event: TimerEvent = {
      atNs: Math.max(atNs, this.clockNs),
      handle: this.nextHandle++,
      callback,
      label,
      heapIndex: this.heap.length,
    };
    this.heap.push(event);
    this.byHandle.set(event.handle, event);
    this.siftUp(event.heapIndex);
    if (this.heap[0] === event && !this.advancing) this.onEarlierDeadline?.();
    return event.handle;
  }

  scheduleIn(delayNs: number, callback: TimerCallback, label: string): number {
    return this.schedule(this.nowNs + delayNs, callback, label);
  }

  /** Forgets a pending event; unknown or already-run handles are ignored. */
  cancel(handle: number): void {
    const event = this.byHandle.get(handle);
    if (event !== undefined) this.removeAt(event.heapIndex);
  }

  /** When the earliest pending event is due; Infinity when nothing is pending (a HLT with no timer). */
  nextDeadlineNs(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0].atNs;
  }

  /**
   * Moves the clock to `ns` (never backward), running every event due by then in deadline order;
   * each callback sees the clock at its own deadline, and events it schedules that are already
   * due run in the same pass.
   */
  advanceTo(ns: number): void {
    if (Number.isNaN(ns)) throw new Error('Scheduler.advanceTo: target time is NaN');
    // A nested advance would let the outer pass move the clock backward.
    if (this.advancing) throw new Error('Scheduler.advanceTo called from inside a timer callback');
    const targetNs = Math.max(ns, this.clockNs);
    this.advancing = true;
    try {
      while (this.heap.length > 0 && this.heap[0].atNs <= targetNs) {
        const event = this.heap[0];
        this.removeAt(0);
        this.clockNs = event.atNs;
        event.callback(event.atNs);
      }
      this.clockNs = targetNs;
    } finally {
      this.advancing = false;
    }
  }

  pending(): number {
    return this.heap.length;
  }

  /** Pending events in the order they will run, for debugging a stuck or busy machine. */
  pendingEvents(): { atNs: number; label: string }[] {
    return [...this.heap].sort(runsBefore).map((event) => ({ atNs: event.atNs, label: event.label }));
  }

  private removeAt(index: number): void {
    const removed = this.heap[index];
    this.byHandle.delete(removed.handle);
    const last = this.heap.pop() as TimerEvent;
    if (index === this.heap.length) return;
    this.heap[index] = last;
    last.heapIndex = index;
    if (index > 0 && runsBefore(last, this.heap[(index - 1) >> 1]) < 0) this.siftUp(index);
    else this.siftDown(index);
  }

  private siftUp(index: number): void {
    const event = this.heap[index];
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = this.heap[parentIndex];
      if (runsBefore(event, parent) >= 0) break;
      this.heap[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    this.heap[index] = event;
    event.heapIndex = index;
  }

  private siftDown(index: number): void {
    const event = this.heap[index];
    const size = this.heap.length;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && runsBefore(this.heap[right], this.heap[left]) < 0 ? right : left;
      if (runsBefore(this.heap[child], event) >= 0) break;
      this.heap[index] = this.heap[child];
      this.heap[index].heapIndex = index;
      index = child;
    }
    this.heap[index] = event;
    event.heapIndex = index;
  }
}

/** Heap order: earlier deadline first, then earlier scheduling. */
function runsBefore(a: TimerEvent, b: TimerEvent): number {
  return a.atNs - b.atNs || a.handle - b.handle;
}
