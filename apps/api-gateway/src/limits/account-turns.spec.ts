import { ManualTimers } from '../../test/manual-timers';
import { AccountTurns, NoTurnError, TurnRefusal } from './account-turns';
import { RateLimitedError } from './rate-limits';

const settle = () => new Promise((resolve) => setImmediate(resolve));

/** Records which of the waiting takes resolved (and with what) or failed. */
function watch(turn: Promise<() => void>) {
  const seen: { release?: () => void; error?: unknown } = {};
  turn.then(
    (release) => (seen.release = release),
    (error: unknown) => (seen.error = error),
  );
  return seen;
}

describe('AccountTurns', () => {
  it('forwards an account’s first requests at once, and the next ones in order as turns come back', async () => {
    const turns = new AccountTurns(2, 10, new ManualTimers());
    const first = await turns.take('a', 1000);
    const second = await turns.take('a', 1000);
    const third = watch(turns.take('a', 1000));
    const fourth = watch(turns.take('a', 1000));
    await settle();
    expect(turns.state('a')).toEqual({ running: 2, waiting: 2 });
    expect(third.release).toBeUndefined();
    first();
    first(); // given back once only
    await settle();
    expect(third.release).toBeDefined();
    expect(fourth.release).toBeUndefined();
    expect(turns.state('a')).toEqual({ running: 2, waiting: 1 });
    second();
    await settle();
    expect(fourth.release).toBeDefined();
    third.release!();
    fourth.release!();
    expect(turns.state('a')).toEqual({ running: 0, waiting: 0 });
  });

  it('does not make another account wait', async () => {
    const turns = new AccountTurns(1, 10, new ManualTimers());
    await turns.take('busy', 1000);
    void turns.take('busy', 1000);
    const other = watch(turns.take('quiet', 1000));
    await settle();
    expect(other.release).toBeDefined();
  });

  it('refuses past the queue with a 429 naming the settings', async () => {
    const turns = new AccountTurns(1, 1, new ManualTimers());
    await turns.take('a', 1000);
    void turns.take('a', 1000);
    const refused = await turns.take('a', 1000).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(NoTurnError);
    expect((refused as NoTurnError).reason).toBe(TurnRefusal.QueueFull);
    const http = (refused as NoTurnError).toHttp();
    expect(http).toBeInstanceOf(RateLimitedError);
    expect(http.message).toContain('MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT');
    expect((http as RateLimitedError).retryAfterS).toBe(1);
  });

  it('gives up on a wait at the deadline (504) or when the caller goes away, and the queue moves on', async () => {
    const timers = new ManualTimers();
    const turns = new AccountTurns(1, 10, timers);
    const held = await turns.take('a', 1000);
    const abort = new AbortController();
    const leaving = watch(turns.take('a', 1000, abort.signal));
    abort.abort();
    await settle();
    expect((leaving.error as NoTurnError).reason).toBe(TurnRefusal.Aborted);
    const late = watch(turns.take('a', 1000));
    timers.fire();
    await settle();
    expect((late.error as NoTurnError).reason).toBe(TurnRefusal.Deadline);
    expect((late.error as NoTurnError).toHttp().code).toBe('upstream_timeout');
    expect(turns.state('a')).toEqual({ running: 1, waiting: 0 });
    held();
    expect(turns.state('a')).toEqual({ running: 0, waiting: 0 });
    // A signal already aborted never waits.
    await turns.take('a', 1000);
    const gone = new AbortController();
    gone.abort();
    const never = await turns.take('a', 1000, gone.signal).catch((e: NoTurnError) => e.reason);
    expect(never).toBe(TurnRefusal.Aborted);
    expect(timers.pending.size).toBe(0);
  });
});
