/**
 * Answers of reads the gateway forwards, kept for a short time so that a burst of the same read
 * costs one bus round trip and one query: concurrent callers share one request (single flight),
 * and an entry lives `ttlMs` at most. Whatever changes the data drops the entry at once (the
 * gateway's own writes, and the services' events); the TTL bounds how stale an answer can be when
 * an event is missed or handled by another gateway replica.
 */
export class ReadCache<V> {
  private readonly entries = new Map<string, { value: Promise<V>; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    const value = load();
    if (this.entries.size >= this.maxEntries)
      this.entries.delete(this.entries.keys().next().value!);
    const entry = { value, until: this.now() + this.ttlMs };
    this.entries.set(key, entry);
    // A failure is not kept: the next caller asks again.
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return value;
  }

  forget(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
