/**
 * The uids of local sandboxes (SANDBOX_UID_RANGE): one per running sandbox, so one server
 * cannot read another's files or /proc/<pid>/environ, and the process limit (RLIMIT_NPROC, per
 * uid) is per sandbox. A uid is taken at start and given back when the sandbox is gone.
 */
export class UidPool {
  private readonly held = new Map<string, number>();
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    private readonly first: number,
    private readonly last: number,
  ) {
    this.next = first;
  }

  /** The uid of a connection's sandbox (the same one while it holds it). */
  take(connectionId: string): number {
    const held = this.held.get(connectionId);
    if (held !== undefined) return held;
    const size = this.last - this.first + 1;
    for (let i = 0; i < size; i++) {
      // Round robin: a uid just given back is the last to be given out again.
      const uid = this.first + ((this.next - this.first + i) % size);
      if (this.used.has(uid)) continue;
      this.used.add(uid);
      this.held.set(connectionId, uid);
      this.next = uid + 1 > this.last ? this.first : uid + 1;
      return uid;
    }
    throw new Error(`All ${size} sandbox uids (SANDBOX_UID_RANGE) are in use.`);
  }

  release(connectionId: string): void {
    const uid = this.held.get(connectionId);
    if (uid === undefined) return;
    this.held.delete(connectionId);
    this.used.delete(uid);
  }
}
