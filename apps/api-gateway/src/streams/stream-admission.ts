import { DomainError } from '@athenic/contracts';
import { RateLimitedError } from '../limits/rate-limits';

/** How many streams of one kind may be open in this process (StreamLimits, STREAM_MAX_PER_*). */
export interface AdmissionLimits {
  perAccount: number;
  perProcess: number;
}

/**
 * Counts the open streams of one kind in this process, in all and per account, and refuses one
 * past a cap (rate_limited) or once the gateway is shutting down (service_unavailable). A stream
 * is checked before its headers are written and counted once it is served: `take` counts it,
 * and the function it returns frees its slot, once however often it is called.
 */
export class StreamAdmission {
  private open = 0;
  private readonly byAccount = new Map<string, number>();
  private stopping = false;

  /** `kind` names the streams in a refusal ("event streams", "run streams"). */
  constructor(
    private readonly limits: AdmissionLimits,
    private readonly kind: string,
  ) {}

  /** Refuses a stream while shutting down, or when this process serves its cap of them. */
  checkProcess(): void {
    if (this.stopping)
      throw new DomainError('service_unavailable', 'The gateway is shutting down; reconnect.');
    if (this.open >= this.limits.perProcess)
      throw new RateLimitedError(
        5,
        `This gateway process serves ${this.limits.perProcess} ${this.kind} already; retry after 5 s.`,
      );
  }

  /** Refuses a stream of an account that has its cap of them open in this process. */
  checkAccount(accountId: string): void {
    if (this.count(accountId) >= this.limits.perAccount)
      throw new RateLimitedError(
        5,
        `This account has ${this.limits.perAccount} ${this.kind} open on this gateway process already; close one first.`,
      );
  }

  /** Counts a stream of `accountId` as open; the function returned frees its slot, once. */
  take(accountId: string): () => void {
    this.open++;
    this.byAccount.set(accountId, this.count(accountId) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.open--;
      const left = this.count(accountId) - 1;
      if (left > 0) this.byAccount.set(accountId, left);
      else this.byAccount.delete(accountId);
    };
  }

  /** Open streams (all, or one account's). */
  count(accountId?: string): number {
    return accountId === undefined ? this.open : (this.byAccount.get(accountId) ?? 0);
  }

  /** The gateway is shutting down: every stream is refused from now on. */
  stop(): void {
    this.stopping = true;
  }
}
