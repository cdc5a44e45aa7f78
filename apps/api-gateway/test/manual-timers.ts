import type { Timer, Timers } from '../src/limits/timers';

/** Timers that run only when a test says so (`fire()`), each with the delay it was set for. */
export class ManualTimers implements Timers {
  readonly pending = new Map<number, { work: () => void; ms: number }>();
  private next = 1;

  after(ms: number, work: () => void): Timer {
    const id = this.next++;
    this.pending.set(id, { work, ms });
    return { cancel: () => this.pending.delete(id) };
  }

  /** Runs every pending timer. */
  fire(): void {
    for (const [id, timer] of [...this.pending]) {
      this.pending.delete(id);
      timer.work();
    }
  }

  /** The delays of the pending timers, in the order they were set. */
  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }
}
