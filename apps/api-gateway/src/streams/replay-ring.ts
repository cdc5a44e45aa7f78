/** One event of the connection stream as this process keeps it for replay. */
export interface RingEntry {
  /** The SSE `id:`, the same in every gateway process (see eventId in connection-streams.ts). */
  id: string;
  /** Whose event it is; replay hands a client its own account's only. */
  accountId: string;
  /** The whole SSE frame, ready to write. */
  frame: string;
  /** When this process received it (ms), for the time window. */
  receivedAt: number;
}

/**
 * The last events every process of the gateway received from the bus, in the order it received
 * them, bounded by count (`capacity`) and age (`windowMs`). Every gateway process consumes each
 * connection event from its own queue (events/read-invalidation.ts), so each holds the same events
 * under the same ids: a client that reconnects to any process with `Last-Event-ID` is given the
 * entries after that id. An id this ring no longer (or never) held is `undefined`: outside the
 * window, the caller sends the current state instead.
 */
export class ReplayRing {
  private readonly entries: RingEntry[] = [];
  /** Position of entries[0] in the sequence of every entry ever added. */
  private first = 0;
  private readonly positions = new Map<string, number>();

  constructor(
    private readonly capacity: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adds an entry; false (and nothing added) when one with its id is held already (a redelivery). */
  add(entry: Omit<RingEntry, 'receivedAt'>): boolean {
    this.prune();
    if (this.positions.has(entry.id)) return false;
    this.positions.set(entry.id, this.first + this.entries.length);
    this.entries.push({ ...entry, receivedAt: this.now() });
    this.prune();
    return true;
  }

  /** The entries of `accountId` received after the one with `id`; undefined if `id` is not held. */
  after(id: string, accountId: string): RingEntry[] | undefined {
    this.prune();
    const position = this.positions.get(id);
    if (position === undefined) return undefined;
    const missed: RingEntry[] = [];
    for (let i = position - this.first + 1; i < this.entries.length; i++)
      if (this.entries[i].accountId === accountId) missed.push(this.entries[i]);
    return missed;
  }

  /** The id of the newest entry: where a client given the current state resumes from. */
  head(): string | undefined {
    this.prune();
    return this.entries.at(-1)?.id;
  }

  get size(): number {
    return this.entries.length;
  }

  private prune(): void {
    const oldest = this.now() - this.windowMs;
    let drop = 0;
    while (
      drop < this.entries.length &&
      (this.entries.length - drop > this.capacity || this.entries[drop].receivedAt < oldest)
    ) {
      this.positions.delete(this.entries[drop].id);
      drop++;
    }
    if (drop === 0) return;
    this.entries.splice(0, drop);
    this.first += drop;
  }
}
