import type { ServerResponse } from 'node:http';
import type { GatewayConfig } from '../config/env';
import { systemTimers, type Timers } from './timers';

/**
 * Holds the answer to a request refused by a rate limit for a moment before it is sent
 * (docs/security/limits.md, "Held refusals"): a client that asks again the instant it is refused
 * (many MCP clients do) asks at most once per hold per request it keeps in flight, instead of
 * as fast as the gateway can refuse it, so its flood costs the gateway, and the tenants it
 * shares the gateway with, little CPU. Nothing else changes: the answer is the same 429 with
 * the same Retry-After. The hold ends at a random moment after the window that refused the
 * request opens again (never later than RATE_LIMIT_REFUSAL_HOLD_MS, spread so the refused
 * requests do not return together), or at once when the client goes away; past
 * RATE_LIMIT_REFUSALS_HELD_MAX held answers in this process, refusals are answered at once, so
 * holding costs a bounded number of sockets and timers. One per process (app.module.ts).
 */
export class RefusalHold {
  private held = 0;
  private readonly holdMs: number;
  private readonly maxHeld: number;

  constructor(
    config: Pick<GatewayConfig, 'env'>,
    private readonly timers: Timers = systemTimers,
    /** A number in [0, 1): where in the hold an answer goes (a test passes its own). */
    private readonly random: () => number = Math.random,
  ) {
    this.holdMs = config.env.RATE_LIMIT_REFUSAL_HOLD_MS;
    this.maxHeld = config.env.RATE_LIMIT_REFUSALS_HELD_MAX;
  }

  /** Answers held right now. */
  get holding(): number {
    return this.held;
  }

  /**
   * Calls `send` once the hold is over: at a random moment between `reopensInMs` (when the
   * refusing window opens again; the hold if that is later) and the end of the configured hold,
   * so that refused callers who ask again at once do not all come back the instant the window
   * opens; at once when holding is off or full. `send` is not called when the client closed
   * the request meanwhile.
   */
  answer(res: ServerResponse, reopensInMs: number, send: () => void): void {
    const earliest = Math.min(this.holdMs, Math.max(0, Math.ceil(reopensInMs)));
    const delay =
      earliest <= 0 ? 0 : Math.round(earliest + this.random() * (this.holdMs - earliest));
    if (delay <= 0 || this.held >= this.maxHeld) return send();
    this.held += 1;
    let over = false;
    const end = (sendNow: boolean) => {
      if (over) return;
      over = true;
      this.held -= 1;
      timer.cancel();
      res.off('close', gone);
      if (sendNow) send();
    };
    const gone = () => end(false);
    const timer = this.timers.after(delay, () => end(true));
    res.once('close', gone);
  }
}
