import { randomBytes } from 'node:crypto';
import { DecryptionError, keyCheck, open, rewrap, seal, verifyKeyCheck } from './envelope';
import { Keyring, KeyringError } from './keyring';

const v1 = { version: 1, key: randomBytes(32) };
const v2 = { version: 2, key: randomBytes(32) };
const keyring = new Keyring([v1, v2], 1);
const owner = {
  accountId: 'acct-a',
  connectionId: '6c1b3f1e-7a8e-4a55-9e59-0a6a1ef0c001',
  purpose: 'connection',
};

function flip(buffer: Buffer, index: number): Buffer {
  const copy = Buffer.from(buffer);
  copy[index] ^= 0x01;
  return copy;
}

describe('envelope encryption', () => {
  it('round-trips Unicode and the largest credential set', () => {
    const payloads = [
      JSON.stringify({ github_token: 'ghp_ünïcødé_🔑_токен' }),
      JSON.stringify({ api_headers: 'x'.repeat(8192), other: 'y'.repeat(8192) }),
    ];
    for (const text of payloads) {
      const envelope = seal(Buffer.from(text), owner, keyring.current);
      expect(envelope.keyVersion).toBe(1);
      expect(envelope.ciphertext.includes(Buffer.from(text.slice(0, 12)))).toBe(false);
      expect(open(envelope, owner, keyring).toString()).toBe(text);
    }
  });

  it('uses a fresh data key and IV every time', () => {
    const a = seal(Buffer.from('same'), owner, v1);
    const b = seal(Buffer.from('same'), owner, v1);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
    expect(a.wrappedKey.equals(b.wrappedKey)).toBe(false);
  });

  it.each([
    ['account', { ...owner, accountId: 'acct-b' }],
    ['connection', { ...owner, connectionId: '6c1b3f1e-7a8e-4a55-9e59-0a6a1ef0c002' }],
    ['purpose', { ...owner, purpose: 'other' }],
  ])("fails loudly when the ciphertext is read as another %s's", (_what, other) => {
    const envelope = seal(Buffer.from('secret'), owner, v1);
    expect(() => open(envelope, other, keyring)).toThrow(DecryptionError);
  });

  it('fails on any tampered byte of the ciphertext or the wrapped key', () => {
    const envelope = seal(Buffer.from('{"token":"secret"}'), owner, v1);
    for (let i = 0; i < envelope.ciphertext.length; i += 7) {
      expect(() =>
        open({ ...envelope, ciphertext: flip(envelope.ciphertext, i) }, owner, keyring),
      ).toThrow(DecryptionError);
    }
    for (let i = 0; i < envelope.wrappedKey.length; i += 5) {
      expect(() =>
        open({ ...envelope, wrappedKey: flip(envelope.wrappedKey, i) }, owner, keyring),
      ).toThrow(DecryptionError);
    }
    expect(() =>
      open({ ...envelope, ciphertext: envelope.ciphertext.subarray(0, 10) }, owner, keyring),
    ).toThrow('truncated');
  });

  it('fails when the key version column is changed to another key', () => {
    const envelope = seal(Buffer.from('secret'), owner, v1);
    expect(() => open({ ...envelope, keyVersion: 2 }, owner, keyring)).toThrow(DecryptionError);
  });

  it('rewraps under a new master key without touching the payload ciphertext', () => {
    const envelope = seal(Buffer.from('secret'), owner, v1);
    const moved = rewrap(envelope, owner, keyring, v2);
    expect(moved.keyVersion).toBe(2);
    expect(moved.ciphertext.equals(envelope.ciphertext)).toBe(true);
    expect(open(moved, owner, new Keyring([v2])).toString()).toBe('secret');
    expect(rewrap(moved, owner, keyring, v2)).toBe(moved);
  });

  it('cannot read data wrapped by a key the keyring does not hold', () => {
    const envelope = seal(Buffer.from('secret'), owner, v2);
    expect(() => open(envelope, owner, new Keyring([v1]))).toThrow(
      'Master key v2 is not in CREDENTIAL_KEYS',
    );
  });

  it('detects a wrong key for a version with its key check', () => {
    const check = keyCheck(v1);
    expect(verifyKeyCheck(v1, check)).toBe(true);
    expect(verifyKeyCheck({ version: 1, key: randomBytes(32) }, check)).toBe(false);
  });
});

describe('keyring', () => {
  const b64 = () => randomBytes(32).toString('base64');

  it('parses CREDENTIAL_KEYS and makes the highest version current by default', () => {
    const ring = Keyring.parse(`v1:${b64()},v3:${b64()},v2:${b64()}`);
    expect(ring.current.version).toBe(3);
    expect(ring.versions()).toEqual([1, 2, 3]);
    expect(Keyring.parse(`v1:${b64()},v2:${b64()}`, 1).current.version).toBe(1);
  });

  it.each([
    ['', /must be a comma-separated list/],
    ['v1:abc', /v1 must be 32 bytes/],
    ['k1:' + randomBytes(32).toString('base64'), /must be a comma-separated list/],
  ])('refuses %j with a clear error', (spec, message) => {
    expect(() => Keyring.parse(spec)).toThrow(message);
  });

  it('refuses a current version it does not hold and a duplicate version', () => {
    expect(() => Keyring.parse(`v1:${b64()}`, 2)).toThrow(
      'CREDENTIAL_KEY_CURRENT is v2, which CREDENTIAL_KEYS does not hold',
    );
    expect(() => Keyring.parse(`v1:${b64()},v1:${b64()}`)).toThrow(KeyringError);
  });
});
