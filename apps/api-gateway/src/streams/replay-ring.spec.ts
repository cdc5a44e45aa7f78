import { ReplayRing } from './replay-ring';

describe('ReplayRing', () => {
  let now: number;
  const entry = (id: string, accountId = 'a') => ({ id, accountId, frame: `frame ${id}\n\n` });

  beforeEach(() => {
    now = 1_000_000;
  });

  it("gives an account's entries received after an id, in order, none of another account's", () => {
    const ring = new ReplayRing(100, 60_000, () => now);
    for (const [id, account] of [
      ['1', 'a'],
      ['2', 'b'],
      ['3', 'a'],
      ['4', 'b'],
      ['5', 'a'],
    ])
      ring.add(entry(id, account));
    expect(ring.after('1', 'a')?.map((e) => e.id)).toEqual(['3', '5']);
    // An id of another account's event is a position too (a snapshot resumes from the newest).
    expect(ring.after('2', 'a')?.map((e) => e.id)).toEqual(['3', '5']);
    expect(ring.after('5', 'a')).toEqual([]);
    expect(ring.after('4', 'b')).toEqual([]);
    expect(ring.head()).toBe('5');
  });

  it('does not know an id it never held', () => {
    const ring = new ReplayRing(100, 60_000, () => now);
    ring.add(entry('1'));
    expect(ring.after('0', 'a')).toBeUndefined();
  });

  it('forgets the oldest entries past its capacity', () => {
    const ring = new ReplayRing(3, 60_000, () => now);
    for (const id of ['1', '2', '3', '4', '5']) ring.add(entry(id));
    expect(ring.size).toBe(3);
    expect(ring.after('2', 'a')).toBeUndefined();
    expect(ring.after('3', 'a')?.map((e) => e.id)).toEqual(['4', '5']);
  });

  it('forgets entries older than its window', () => {
    const ring = new ReplayRing(100, 60_000, () => now);
    ring.add(entry('1'));
    now += 30_000;
    ring.add(entry('2'));
    now += 30_001;
    expect(ring.after('1', 'a')).toBeUndefined();
    expect(ring.after('2', 'a')).toEqual([]);
    now += 30_000;
    expect(ring.after('2', 'a')).toBeUndefined();
    expect(ring.head()).toBeUndefined();
  });

  it('adds an entry delivered again once', () => {
    const ring = new ReplayRing(100, 60_000, () => now);
    expect(ring.add(entry('1'))).toBe(true);
    expect(ring.add(entry('2'))).toBe(true);
    expect(ring.add(entry('1'))).toBe(false);
    expect(ring.after('1', 'a')?.map((e) => e.id)).toEqual(['2']);
  });
});
