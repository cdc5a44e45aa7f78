import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { loadConfig } from '../config/env';
import { ManualTimers } from '../../test/manual-timers';
import { RefusalHold } from './refusal-hold';

function hold(env: Record<string, string> = {}, random = () => 0) {
  const timers = new ManualTimers();
  const config = loadConfig({
    NODE_ENV: 'test',
    SERVICE_ROLE_KEY: 'k'.repeat(40),
    INTERNAL_SECRET: 's'.repeat(40),
    ...env,
  });
  return { hold: new RefusalHold(config, timers, random), timers };
}

/** A response as the hold sees it: something that may close. */
const response = () => new EventEmitter() as unknown as ServerResponse;

describe('RefusalHold', () => {
  it('sends a refusal when its window opens again, within RATE_LIMIT_REFUSAL_HOLD_MS (default 1000)', () => {
    const { hold: h, timers } = hold();
    const sent: string[] = [];
    h.answer(response(), 300, () => sent.push('soon'));
    h.answer(response(), 45_000, () => sent.push('capped'));
    expect(timers.delays()).toEqual([300, 1000]);
    expect(sent).toEqual([]);
    expect(h.holding).toBe(2);
    timers.fire();
    expect(sent.sort()).toEqual(['capped', 'soon']);
    expect(h.holding).toBe(0);
  });

  it('spreads the answers between the window opening again and the end of the hold', () => {
    let next = 0;
    const draws = [0, 0.5, 0.999];
    const { hold: h, timers } = hold({}, () => draws[next++]);
    for (let i = 0; i < 3; i++) h.answer(response(), 200, () => undefined);
    expect(timers.delays()).toEqual([200, 600, 999]);
  });

  it('answers at once when holding is off, or the window is already open', () => {
    const { hold: off, timers } = hold({ RATE_LIMIT_REFUSAL_HOLD_MS: '0' });
    const sent: number[] = [];
    off.answer(response(), 800, () => sent.push(1));
    const { hold: on } = hold();
    on.answer(response(), 0, () => sent.push(2));
    expect(sent).toEqual([1, 2]);
    expect(timers.pending.size).toBe(0);
    expect(on.holding).toBe(0);
  });

  it('holds at most RATE_LIMIT_REFUSALS_HELD_MAX answers; the others go at once', () => {
    const { hold: h, timers } = hold({ RATE_LIMIT_REFUSALS_HELD_MAX: '2' });
    const sent: number[] = [];
    for (const n of [1, 2, 3]) h.answer(response(), 500, () => sent.push(n));
    expect(sent).toEqual([3]);
    expect(h.holding).toBe(2);
    timers.fire();
    expect(sent).toEqual([3, 1, 2]);
    // Slots given back: the next refusal is held again.
    h.answer(response(), 500, () => sent.push(4));
    expect(h.holding).toBe(1);
    expect(sent).toEqual([3, 1, 2]);
  });

  it('drops a held answer whose client went away, and frees its slot once', () => {
    const { hold: h, timers } = hold({ RATE_LIMIT_REFUSALS_HELD_MAX: '1' });
    const res = response();
    const sent: string[] = [];
    h.answer(res, 500, () => sent.push('gone'));
    (res as unknown as EventEmitter).emit('close');
    (res as unknown as EventEmitter).emit('close');
    expect(h.holding).toBe(0);
    expect(timers.pending.size).toBe(0);
    timers.fire();
    expect(sent).toEqual([]);
    h.answer(response(), 500, () => sent.push('next'));
    expect(h.holding).toBe(1);
  });

  it('refuses settings out of range with a message naming them', () => {
    expect(() => hold({ RATE_LIMIT_REFUSAL_HOLD_MS: '-1' })).toThrow(/RATE_LIMIT_REFUSAL_HOLD_MS/);
    expect(() => hold({ RATE_LIMIT_REFUSAL_HOLD_MS: 'soon' })).toThrow(
      /RATE_LIMIT_REFUSAL_HOLD_MS/,
    );
    expect(() => hold({ RATE_LIMIT_REFUSALS_HELD_MAX: '-5' })).toThrow(
      /RATE_LIMIT_REFUSALS_HELD_MAX/,
    );
  });
});
