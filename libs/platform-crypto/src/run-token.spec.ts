import { randomBytes } from 'node:crypto';
import { signRunToken, verifyRunToken } from './run-token';

describe('run tokens', () => {
  const secret = randomBytes(32).toString('base64url');

  it('carry the account and the connections they grant, until they expire', async () => {
    const { token, expiresAt } = await signRunToken(
      secret,
      { accountId: 'acct-a', connectionIds: ['c1', 'c2'] },
      60,
    );
    expect(token).toMatch(/^rt_/);
    expect(await verifyRunToken(secret, token)).toEqual({
      accountId: 'acct-a',
      connectionIds: ['c1', 'c2'],
      expiresAt,
    });
  });

  it('are refused when expired, tampered, signed with another secret or not run tokens at all', async () => {
    const expired = (await signRunToken(secret, { accountId: 'a', connectionIds: [] }, -5)).token;
    expect(await verifyRunToken(secret, expired)).toBeUndefined();
    const { token } = await signRunToken(secret, { accountId: 'a', connectionIds: ['c1'] }, 60);
    const [h, p, s] = token.slice(3).split('.');
    const forged = `rt_${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), cids: ['c1', 'other'] })).toString('base64url')}.${s}`;
    expect(await verifyRunToken(secret, forged)).toBeUndefined();
    expect(await verifyRunToken(randomBytes(32).toString('base64url'), token)).toBeUndefined();
    expect(await verifyRunToken(secret, 'ak_not_a_run_token')).toBeUndefined();
  });
});
