import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Deadlines nest: a command carries how long its caller will wait (the `x-timeout-ms` header),
 * and the handler runs with that deadline; any request the handler sends on the bus waits no
 * longer than what is left of it. So an inner call never outlives its caller, and a caller that
 * gave up is not answered by work that goes on without it. The deadline is relative (milliseconds
 * from receipt), never a timestamp: the hosts' clocks need not agree.
 */
const storage = new AsyncLocalStorage<number>();

/** Runs `fn` with a deadline `timeoutMs` from now (or the enclosing one, if sooner). */
export function runWithDeadline<T>(timeoutMs: number, fn: () => T): T {
  const at = Date.now() + timeoutMs;
  const outer = storage.getStore();
  return storage.run(outer !== undefined && outer < at ? outer : at, fn);
}

/** Milliseconds left before the current deadline; undefined when none is set. */
export function remainingMs(): number | undefined {
  const at = storage.getStore();
  return at === undefined ? undefined : at - Date.now();
}

/** A header value as a deadline in ms, when it is a sensible one. */
export function timeoutFromHeader(value: unknown): number | undefined {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(ms) && ms > 0 && ms <= 24 * 3600 * 1000 ? ms : undefined;
}
