import { remainingMs, runWithDeadline, timeoutFromHeader } from './deadline';

describe('deadlines', () => {
  it('has none outside a handler', () => {
    expect(remainingMs()).toBeUndefined();
  });

  it('keeps the sooner of an enclosing and an inner deadline', async () => {
    await runWithDeadline(1000, async () => {
      expect(remainingMs()).toBeLessThanOrEqual(1000);
      expect(remainingMs()).toBeGreaterThan(0);
      await runWithDeadline(60_000, async () => {
        expect(remainingMs()).toBeLessThanOrEqual(1000);
      });
      await runWithDeadline(10, async () => {
        expect(remainingMs()).toBeLessThanOrEqual(10);
      });
    });
    expect(remainingMs()).toBeUndefined();
  });

  it('lets background work started by a handler run without its deadline once it answered', async () => {
    const seen: (number | undefined)[] = [];
    const later = new Promise<void>((resolve) => {
      void runWithDeadline(10_000, async () => {
        // While the handler runs, its timers see the deadline...
        await new Promise((r) => setTimeout(r, 1));
        seen.push(remainingMs());
        // ...and one that fires after it answered does not.
        setTimeout(() => {
          seen.push(remainingMs());
          resolve();
        }, 20);
      });
    });
    await later;
    expect(seen[0]).toBeGreaterThan(0);
    expect(seen[1]).toBeUndefined();
  });

  it('reads only sensible header values', () => {
    expect(timeoutFromHeader(5000)).toBe(5000);
    expect(timeoutFromHeader('250')).toBe(250);
    for (const bad of [0, -1, 1.5, 'soon', '', null, undefined, 10 ** 12, {}])
      expect(timeoutFromHeader(bad)).toBeUndefined();
  });
});
