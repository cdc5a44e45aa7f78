import { DomainError } from '@athenic/contracts';
import { RateLimitedError } from './rate-limits';
import { systemTimers, type Timers } from './timers';

/** Why a request got no turn. */
export enum TurnRefusal {
  /** The account already has its whole queue waiting. */
  QueueFull = 'queue_full',
  /** No turn came before the request's deadline. */
  Deadline = 'deadline',
  /** The caller went away while it waited. */
  Aborted = 'aborted',
}

/** A request that got no turn; `reason` says why, `toHttp()` what the caller is told. */
export class NoTurnError extends Error {
  constructor(
    readonly reason: TurnRefusal,
    private readonly detail: string,
  ) {
    super(detail);
  }

  /** The answer's error: 429 (with Retry-After) for a full queue, 504 past the deadline. */
  toHttp(): DomainError {
    return this.reason === TurnRefusal.QueueFull
      ? new RateLimitedError(1, this.detail)
      : new DomainError('upstream_timeout', this.detail);
  }
}

interface Waiter {
  grant: (release: () => void) => void;
}

interface Lane {
  running: number;
  waiting: Waiter[];
}

/**
 * Turns on the MCP path, per account (docs/security/limits.md, "Fair shares"): at most
 * `inFlight` of an account's MCP requests are forwarded at once; the next ones wait, first come
 * first served, up to `queued` of them (past that, 429). An account that keeps many calls in
 * flight therefore reaches its servers, the sandbox service and the gateway's own event loop a
 * few at a time, between other accounts' requests, instead of in bursts they queue behind.
 * A turn is given back exactly once, when the answer ends (or is abandoned); a waiting request
 * leaves the queue when its caller goes away or its deadline passes. Per gateway process.
 */
export class AccountTurns {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly inFlight: number,
    private readonly queued: number,
    private readonly timers: Timers = systemTimers,
  ) {}

  /** Requests of the account forwarded right now, and waiting. */
  state(account: string): { running: number; waiting: number } {
    const lane = this.lanes.get(account);
    return { running: lane?.running ?? 0, waiting: lane?.waiting.length ?? 0 };
  }

  /**
   * Resolves with the function that gives the turn back, once the request may be forwarded;
   * rejects with a NoTurnError when the queue is full, `deadlineMs` passes or `signal` aborts.
   */
  take(account: string, deadlineMs: number, signal?: AbortSignal): Promise<() => void> {
    let lane = this.lanes.get(account);
    if (!lane) {
      lane = { running: 0, waiting: [] };
      this.lanes.set(account, lane);
    }
    if (lane.running < this.inFlight) return Promise.resolve(this.start(account, lane));
    if (lane.waiting.length >= this.queued)
      return Promise.reject(
        new NoTurnError(
          TurnRefusal.QueueFull,
          `This account has ${this.inFlight} MCP requests in flight and ${this.queued} waiting (MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT, MCP_REQUESTS_QUEUED_PER_ACCOUNT); retry after 1 s.`,
        ),
      );
    const current = lane;
    return new Promise((resolve, reject) => {
      const leave = (error: NoTurnError) => {
        const at = current.waiting.indexOf(waiter);
        if (at < 0) return;
        current.waiting.splice(at, 1);
        done();
        reject(error);
        this.forget(account, current);
      };
      const onAbort = () =>
        leave(new NoTurnError(TurnRefusal.Aborted, 'The caller went away while it waited.'));
      const timer = this.timers.after(deadlineMs, () =>
        leave(
          new NoTurnError(
            TurnRefusal.Deadline,
            `No turn for this MCP request within ${deadlineMs / 1000} s: this account's earlier requests are still in flight (MCP_REQUEST_TIMEOUT_MS).`,
          ),
        ),
      );
      const done = () => {
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        grant: (release) => {
          done();
          resolve(release);
        },
      };
      current.waiting.push(waiter);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private start(account: string, lane: Lane): () => void {
    lane.running += 1;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      lane.running -= 1;
      const next = lane.waiting.shift();
      if (next) next.grant(this.start(account, lane));
      else this.forget(account, lane);
    };
  }

  /** An idle account holds no memory here. */
  private forget(account: string, lane: Lane): void {
    if (lane.running === 0 && lane.waiting.length === 0 && this.lanes.get(account) === lane)
      this.lanes.delete(account);
  }
}
