import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Deadlines nest: a command carries how long its caller will wait (the `x-timeout-ms` header),
 * and the handler runs with that deadline; any request the handler sends on the bus waits no
 * longer than what is left of it. So an inner call never outlives its caller, and a caller that
 * gave up is not answered by work that goes on without it. The deadline is relative (milliseconds
 * from receipt), never a timestamp: the hosts' clocks need not agree.
 */
interface Deadline {
  at: number;
  /** False once the handler that set it has answered: work it left running is on its own. */
  open: boolean;
}

const storage = new AsyncLocalStorage<Deadline>();

/**
 * Runs `fn` with a deadline `timeoutMs` from now (or the enclosing one, if sooner). Only while
 * `fn` runs: work it starts in the background (a deploy kicked off, a timer) inherits the context
 * but not the deadline once `fn` has settled, since nobody waits for that work any more.
 */
export async function runWithDeadline<T>(timeoutMs: number, fn: () => T | Promise<T>): Promise<T> {
  const outer = storage.getStore();
  const at = Date.now() + timeoutMs;
  const deadline: Deadline = { at: outer?.open && outer.at < at ? outer.at : at, open: true };
  try {
    return await storage.run(deadline, fn);
  } finally {
    deadline.open = false;
  }
}

/** Milliseconds left before the current deadline; undefined when none is in force. */
export function remainingMs(): number | undefined {
  const deadline = storage.getStore();
  return deadline?.open ? deadline.at - Date.now() : undefined;
}

/** A header value as a deadline in ms, when it is a sensible one. */
export function timeoutFromHeader(value: unknown): number | undefined {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(ms) && ms > 0 && ms <= 24 * 3600 * 1000 ? ms : undefined;
}
