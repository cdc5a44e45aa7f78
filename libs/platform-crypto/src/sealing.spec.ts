import { randomBytes } from 'node:crypto';
import { generateRecipientKeyPair, seal, sealedKid, unseal } from './sealing';
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
