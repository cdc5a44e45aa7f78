/** A timer `Timers.after` started; cancel() is harmless after it fired. */
export interface Timer {
  cancel(): void;
}

/**
 * Delayed work of the gateway's limits (held refusals, turn deadlines). Production uses the
 * system's timers; the limits' unit tests pass manual ones (apps/api-gateway/test/manual-timers.ts).
 */
export interface Timers {
  /** Runs `work` once `ms` have passed (never keeps the process alive on its own). */
  after(ms: number, work: () => void): Timer;
}

export const systemTimers: Timers = {
  after: (ms, work) => {
    const timer = setTimeout(work, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
