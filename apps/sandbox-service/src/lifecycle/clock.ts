/** A timer the clock started; cancel() is harmless after it fired. */
export interface Timer {
  cancel(): void;
}

/**
 * Time as the lifecycle sees it: deadlines, idleness, back-offs and queue order read `now()`,
 * delayed work runs through `after()`. Production uses the system clock; the lifecycle tests use
 * a manual one they advance, so no test sleeps (apps/sandbox-service/test/lifecycle).
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `work` once `ms` have passed (never keeps the process alive on its own). */
  after(ms: number, work: () => void): Timer;
}

export const CLOCK = Symbol('CLOCK');

export const systemClock: Clock = {
  now: () => Date.now(),
  after: (ms, work) => {
    const timer = setTimeout(work, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
