import { BridgeLimitError } from './limits';

/** Sessions one account may hold at once across its bridges in one process, by default. */
export const DEFAULT_SESSIONS_PER_ACCOUNT = 256;

/** The setting of the sandbox service that sets the budget's limit. */
export const SESSIONS_PER_ACCOUNT_ENV = 'MCP_SESSIONS_PER_ACCOUNT';

export interface SessionBudgetOptions {
  /** Sessions the bridges of one key (an account) may hold at once, all together. */
  limit: number;
  /** The setting that sets `limit`, named in the refusal. Default `MCP_SESSIONS_PER_ACCOUNT`. */
  setting?: string;
}

/** A bridge's place in the budget of its key (see `SessionBudget.join`). */
export interface BudgetMember {
  /**
   * A slot for one new session: the function that gives it back (once; calling it again does
   * nothing), or null when the key holds its limit even after every bridge of the key dropped its
   * idle sessions. Null too once the member has left.
   */
  take(): (() => void) | null;
  /** What a refused session is told: the limit and its setting. */
  readonly refusal: string;
  /** The bridge is gone (closed, or its server exited): every slot it still holds is given back. */
  leave(): void;
}

interface Share {
  held: number;
  members: Set<Member>;
}

interface Member {
  reclaimIdle: () => void;
  /** The releases of the slots this member holds. */
  slots: Set<() => void>;
}

/**
 * Caps the sessions of several bridges together, per key: in the sandbox service, one budget for
 * the process, keyed by account, which every bridge of that account's connections joins, so that
 * an account with many connections cannot hold many times one connection's sessions
 * (`maxSessions`) in one process. Each session takes a slot when it opens and gives it back when
 * it ends, however it ends (DELETE, idle expiry, the server's exit, the bridge's close); a bridge
 * that leaves gives back whatever it still holds. When the key is at its limit, the idle
 * sessions of all its bridges are dropped before a new one is refused.
 */
export class SessionBudget {
  readonly limit: number;
  readonly setting: string;
  private readonly shares = new Map<string, Share>();

  constructor(options: SessionBudgetOptions) {
    const setting = options.setting ?? SESSIONS_PER_ACCOUNT_ENV;
    if (!Number.isSafeInteger(options.limit) || options.limit <= 0)
      throw new BridgeLimitError(
        setting,
        `${setting} must be a positive integer, got ${String(options.limit)}`,
      );
    this.limit = options.limit;
    this.setting = setting;
  }

  /** The sessions a key holds now. */
  held(key: string): number {
    return this.shares.get(key)?.held ?? 0;
  }

  /** How many keys have a bridge or a session now (a key with neither is forgotten). */
  get keys(): number {
    return this.shares.size;
  }

  /** Joins a bridge to the budget of `key`; `reclaimIdle` drops that bridge's idle sessions. */
  join(key: string, reclaimIdle: () => void): BudgetMember {
    let share = this.shares.get(key);
    if (!share) {
      share = { held: 0, members: new Set() };
      this.shares.set(key, share);
    }
    const joined: Share = share;
    const member: Member = { reclaimIdle, slots: new Set() };
    joined.members.add(member);
    let left = false;
    const forgetIfUnused = () => {
      if (joined.held === 0 && joined.members.size === 0 && this.shares.get(key) === joined)
        this.shares.delete(key);
    };
    return {
      refusal: `Too many sessions: this account may hold ${this.limit} at once across its connections (${this.setting}); end one with DELETE or let an idle one expire`,
      take: () => {
        if (left) return null;
        if (joined.held >= this.limit)
          // Sessions past their idle time go first, in every bridge of the key; their sweepers
          // may not have come by yet.
          for (const other of [...joined.members]) other.reclaimIdle();
        if (joined.held >= this.limit) return null;
        joined.held += 1;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          member.slots.delete(release);
          joined.held -= 1;
          forgetIfUnused();
        };
        member.slots.add(release);
        return release;
      },
      leave: () => {
        if (left) return;
        left = true;
        for (const release of [...member.slots]) release();
        joined.members.delete(member);
        forgetIfUnused();
      },
    };
  }
}
