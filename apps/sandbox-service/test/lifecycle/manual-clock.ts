import type { Clock, Timer } from '../../src/lifecycle/clock';

/**
 * A clock the lifecycle tests move by hand: `now()` stands still until `advance()`, which fires
 * the timers that fall due, in order. No test waits on the wall clock for a deadline, a
 * back-off or an idle timeout.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly timers: { at: number; seq: number; work: () => void; cancelled: boolean }[] = [];
  private seq = 0;

  constructor(start = Date.parse('2026-11-30T12:00:00Z')) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  after(ms: number, work: () => void): Timer {
    const timer = { at: this.current + Math.max(0, ms), seq: this.seq++, work, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Moves time on by `ms`, running each timer that falls due at its own time. */
  async advance(ms: number): Promise<void> {
    const until = this.current + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= until)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers.splice(this.timers.indexOf(due), 1);
      this.current = Math.max(this.current, due.at);
      due.work();
      // Let the work's promise callbacks run before the next timer (their I/O is awaited by the test).
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.current = until;
  }

  /** Timers waiting to fire. */
  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Settles `work` that waits on this clock (a grace period polled every 100 ms): time moves on
   * in `stepMs` steps, with the event loop turned between them, until it settles.
   */
  async runUntilSettled<T>(work: Promise<T>, stepMs = 100, maxSteps = 10_000): Promise<T> {
    let settled = false;
    const watched = work.finally(() => (settled = true));
    for (let i = 0; i < maxSteps && !settled; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      if (!settled) await this.advance(stepMs);
    }
    return watched;
  }
}
