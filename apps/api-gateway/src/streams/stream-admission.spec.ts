import { StreamAdmission } from './stream-admission';

describe('StreamAdmission', () => {
  const LIMITS = { perAccount: 2, perProcess: 3 };

  it("counts open streams, in all and per account, and frees each one's slot", () => {
    const admission = new StreamAdmission(LIMITS, 'event streams');
    const a1 = admission.take('acct-a');
    admission.take('acct-a');
    admission.take('acct-b');
    expect(admission.count()).toBe(3);
    expect(admission.count('acct-a')).toBe(2);
    expect(admission.count('acct-b')).toBe(1);
    expect(admission.count('acct-c')).toBe(0);
    a1();
    expect(admission.count()).toBe(2);
    expect(admission.count('acct-a')).toBe(1);
  });

  it('frees a slot once however often its release is called', () => {
    const admission = new StreamAdmission(LIMITS, 'event streams');
    const a1 = admission.take('acct-a');
    admission.take('acct-a');
    a1();
    a1();
    expect(admission.count('acct-a')).toBe(1);
    expect(admission.count()).toBe(1);
  });

  it('refuses a stream of an account at its cap with rate_limited, naming the kind', () => {
    const admission = new StreamAdmission(LIMITS, 'run streams');
    admission.take('acct-a');
    expect(() => admission.checkAccount('acct-a')).not.toThrow();
    const a2 = admission.take('acct-a');
    expect(() => admission.checkAccount('acct-a')).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        retryAfterS: 5,
        message:
          'This account has 2 run streams open on this gateway process already; close one first.',
      }),
    );
    expect(() => admission.checkAccount('acct-b')).not.toThrow();
    a2();
    expect(() => admission.checkAccount('acct-a')).not.toThrow();
  });

  it('refuses a stream past the per-process cap with rate_limited', () => {
    const admission = new StreamAdmission(LIMITS, 'event streams');
    admission.take('acct-a');
    admission.take('acct-b');
    expect(() => admission.checkProcess()).not.toThrow();
    const c = admission.take('acct-c');
    expect(() => admission.checkProcess()).toThrow(
      expect.objectContaining({
        code: 'rate_limited',
        retryAfterS: 5,
        message: 'This gateway process serves 3 event streams already; retry after 5 s.',
      }),
    );
    c();
    expect(() => admission.checkProcess()).not.toThrow();
  });

  it('refuses every stream with service_unavailable once stopped; open ones are still freed', () => {
    const admission = new StreamAdmission(LIMITS, 'event streams');
    const a = admission.take('acct-a');
    admission.stop();
    expect(() => admission.checkProcess()).toThrow(
      expect.objectContaining({
        code: 'service_unavailable',
        message: 'The gateway is shutting down; reconnect.',
      }),
    );
    a();
    expect(admission.count()).toBe(0);
  });
});
