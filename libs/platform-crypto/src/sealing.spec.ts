import { randomBytes } from 'node:crypto';
import {
  bindingMismatch,
  generateRecipientKeyPair,
  seal,
  sealedKid,
  unseal,
  unsealBound,
} from './sealing';
import { signFields, verifyFields } from './internal-auth';

describe('sealing', () => {
  it("seals a value only its recipient can open, with the recipient's kid in the header", async () => {
    const recipient = await generateRecipientKeyPair();
    const other = await generateRecipientKeyPair();
    const jwe = await seal('ghp_canary_ünïcødé', recipient.publicJwk);
    expect(jwe).not.toContain('canary');
    expect(sealedKid(jwe)).toBe(recipient.kid);
    expect(await unseal(jwe, recipient.privateKey)).toBe('ghp_canary_ünïcødé');
    await expect(unseal(jwe, other.privateKey)).rejects.toThrow();
  });

  it('tells a plain string from a JWE', () => {
    expect(sealedKid('YOUR_ENCRYPTED_TOKEN')).toBeUndefined();
    expect(sealedKid('a.b.c.d.e')).toBeUndefined();
  });

  it('rejects a tampered JWE', async () => {
    const recipient = await generateRecipientKeyPair();
    const jwe = await seal('secret', recipient.publicJwk);
    const parts = jwe.split('.');
    parts[3] = parts[3].slice(0, -2) + (parts[3].endsWith('A') ? 'BA' : 'AA');
    await expect(unseal(parts.join('.'), recipient.privateKey)).rejects.toThrow();
  });
});

describe('bindings', () => {
  const here = { account: 'acct-a', connection: 'c-1', purpose: 'connection-credentials' };

  it('carries the binding in the authenticated header and reads it back', async () => {
    const recipient = await generateRecipientKeyPair();
    const jwe = await seal('v', recipient.publicJwk, here);
    expect(await unsealBound(jwe, recipient.privateKey)).toEqual({ plaintext: 'v', binding: here });
  });

  it('allows a value only for the account, connection and purpose it names', () => {
    expect(bindingMismatch(here, here)).toBeUndefined();
    expect(bindingMismatch({ ...here, account: 'acct-b' }, here)).toBe(
      'it was sealed for another account',
    );
    expect(bindingMismatch({ ...here, purpose: 'other' }, here)).toBe(
      'it was sealed for another purpose',
    );
    expect(bindingMismatch({ ...here, connection: 'c-2' }, here)).toMatch(
      /^it was sealed for another connection \(seal it with ath_cid: at install installConnectionId\(account, Idempotency-Key\)/,
    );
    // Bound to the account only (how install values were sealed before): refused, saying how.
    expect(bindingMismatch({ account: 'acct-a', purpose: here.purpose }, here)).toMatch(
      /^it is not bound to a connection \(seal it with ath_cid: .*sending that Idempotency-Key/,
    );
    expect(bindingMismatch({}, here)).toMatch(/^it is not bound to an account/);
  });
});

describe('internal proofs', () => {
  const secret = randomBytes(32).toString('base64url');

  it('verify only with the same secret, purpose and fields', () => {
    const fields = { connection_id: 'c1', requested_at: '2026-01-01T00:00:00Z' };
    const proof = signFields(secret, 'reveal', fields);
    expect(verifyFields(secret, 'reveal', fields, proof)).toBe(true);
    expect(verifyFields(secret, 'reveal', { ...fields, connection_id: 'c2' }, proof)).toBe(false);
    expect(verifyFields(secret, 'other-purpose', fields, proof)).toBe(false);
    expect(verifyFields(randomBytes(32).toString('base64url'), 'reveal', fields, proof)).toBe(
      false,
    );
    expect(verifyFields(secret, 'reveal', fields, 'short')).toBe(false);
  });
});
