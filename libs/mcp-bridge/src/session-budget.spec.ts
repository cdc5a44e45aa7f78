import { BridgeLimitError } from './limits';
import { DEFAULT_SESSIONS_PER_ACCOUNT, SessionBudget } from './session-budget';

describe('SessionBudget', () => {
  it('counts the slots of every member of a key together, and each key on its own', () => {
    const budget = new SessionBudget({ limit: 3 });
    const a1 = budget.join('acct-a', () => undefined);
    const a2 = budget.join('acct-a', () => undefined);
    const b = budget.join('acct-b', () => undefined);
    expect([a1.take(), a2.take(), a1.take()].every((r) => typeof r === 'function')).toBe(true);
    expect(budget.held('acct-a')).toBe(3);
    expect(a1.take()).toBeNull();
    expect(a2.take()).toBeNull();
    expect(b.take()).toEqual(expect.any(Function));
    expect(budget.held('acct-b')).toBe(1);
    expect(a1.refusal).toBe(
      'Too many sessions: this account may hold 3 at once across its connections (MCP_SESSIONS_PER_ACCOUNT); end one with DELETE or let an idle one expire',
    );
  });

  it('gives a slot back once, however often its release is called', () => {
    const budget = new SessionBudget({ limit: 2 });
    const member = budget.join('acct', () => undefined);
    const first = member.take()!;
    member.take();
    first();
    first();
    expect(budget.held('acct')).toBe(1);
    expect(member.take()).toEqual(expect.any(Function));
    expect(member.take()).toBeNull();
  });

  it("asks every member of a full key to drop its idle sessions before refusing, and not another key's", () => {
    const budget = new SessionBudget({ limit: 2 });
    const idle: (() => void)[] = [];
    const asked: string[] = [];
    const a1 = budget.join('acct-a', () => {
      asked.push('a1');
      idle.splice(0).forEach((release) => release());
    });
    const a2 = budget.join('acct-a', () => asked.push('a2'));
    budget.join('acct-b', () => asked.push('b'));
    idle.push(a1.take()!);
    a2.take();
    // Full: a1's idle session is dropped, and the new one fits.
    expect(a2.take()).toEqual(expect.any(Function));
    expect(asked).toEqual(['a1', 'a2']);
    // Full again, nothing idle: refused, after asking again.
    expect(a1.take()).toBeNull();
    expect(asked).toEqual(['a1', 'a2', 'a1', 'a2']);
  });

  it('gives back what a member still holds when it leaves, takes nothing afterwards, and forgets an unused key', () => {
    const budget = new SessionBudget({ limit: 4 });
    const a1 = budget.join('acct', () => undefined);
    const a2 = budget.join('acct', () => undefined);
    const kept = a1.take()!;
    a1.take();
    a2.take();
    a1.leave();
    expect(budget.held('acct')).toBe(1);
    // A release after the leave changes nothing.
    kept();
    expect(budget.held('acct')).toBe(1);
    expect(a1.take()).toBeNull();
    a1.leave();
    expect(budget.keys).toBe(1);
    a2.leave();
    expect(budget.held('acct')).toBe(0);
    expect(budget.keys).toBe(0);
    // A key joined again starts from nothing.
    const again = budget.join('acct', () => undefined);
    for (let i = 0; i < 4; i++) expect(again.take()).toEqual(expect.any(Function));
    expect(again.take()).toBeNull();
  });

  it('refuses a limit that is not a positive integer, naming the setting', () => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      expect(() => new SessionBudget({ limit })).toThrow(BridgeLimitError);
      expect(() => new SessionBudget({ limit })).toThrow('MCP_SESSIONS_PER_ACCOUNT');
    }
    expect(() => new SessionBudget({ limit: 0 })).toThrow(
      'MCP_SESSIONS_PER_ACCOUNT must be a positive integer, got 0',
    );
    expect(DEFAULT_SESSIONS_PER_ACCOUNT).toBe(256);
  });
});
