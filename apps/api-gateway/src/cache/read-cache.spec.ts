import { ReadCache } from './read-cache';

describe('ReadCache', () => {
  let now: number;
  let loads: number;
  let cache: ReadCache<string>;
  const load =
    (value = 'v') =>
    async () => {
      loads += 1;
      return value;
    };

  beforeEach(() => {
    now = 1_000;
    loads = 0;
    cache = new ReadCache<string>(500, 3, () => now);
  });

  it('shares one load among concurrent and repeated callers within the TTL', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.get('k', load())));
    expect(new Set(answers)).toEqual(new Set(['v']));
    now += 499;
    await cache.get('k', load());
    expect(loads).toBe(1);
  });

  it('loads again after the TTL, or at once after forget', async () => {
    await cache.get('k', load());
    now += 500;
    await cache.get('k', load());
    cache.forget('k');
    await cache.get('k', load());
    expect(loads).toBe(3);
  });

  it('does not keep a failure', async () => {
    await expect(
      cache.get('k', async () => {
        throw new Error('down');
      }),
    ).rejects.toThrow('down');
    expect(await cache.get('k', load('back'))).toBe('back');
  });

  it('holds at most maxEntries, dropping the oldest', async () => {
    for (const key of ['a', 'b', 'c', 'd']) await cache.get(key, load(key));
    await cache.get('a', load('a2'));
    expect(loads).toBe(5);
    expect(await cache.get('d', load('d2'))).toBe('d');
  });
});
