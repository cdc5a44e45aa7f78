import { isUUID } from 'class-validator';
import { createHash } from 'node:crypto';
import { installConnectionId } from './install-connection-id';

const V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('installConnectionId', () => {
  it('is the same for the same account and key, every time', () => {
    expect(installConnectionId('acct-a', 'install-1')).toBe(
      installConnectionId('acct-a', 'install-1'),
    );
  });

  it('differs by account and by key', () => {
    const ids = new Set([
      installConnectionId('acct-a', 'install-1'),
      installConnectionId('acct-b', 'install-1'),
      installConnectionId('acct-a', 'install-2'),
      installConnectionId('acct-b', 'install-2'),
    ]);
    expect(ids.size).toBe(4);
  });

  it('is a lowercase RFC 9562 version 8 UUID, valid for the platform and Postgres checks', () => {
    for (let i = 0; i < 200; i++) {
      const id = installConnectionId(`acct-${i}`, `request:${i}`);
      expect(id).toMatch(V8);
      expect(isUUID(id)).toBe(true); // class-validator's @IsUUID() of the bus contracts
      expect(isUUID(id, '8')).toBe(true);
    }
  });

  it('is the first 16 bytes of SHA-256 over the documented input, version and variant set', () => {
    const digest = createHash('sha256')
      .update('athenic-install-connection\u0000acct-a\u0000install-1', 'utf8')
      .digest('hex');
    const expected = [
      digest.slice(0, 8),
      digest.slice(8, 12),
      `8${digest.slice(13, 16)}`,
      ((parseInt(digest.slice(16, 18), 16) & 0x3f) | 0x80).toString(16) + digest.slice(18, 20),
      digest.slice(20, 32),
    ].join('-');
    expect(installConnectionId('acct-a', 'install-1')).toBe(expected);
  });

  it('cannot be made to collide by moving text between the account and the key', () => {
    expect(installConnectionId('ab', 'c')).not.toBe(installConnectionId('a', 'bc'));
    expect(installConnectionId('a:b', 'c')).not.toBe(installConnectionId('a', 'b:c'));
    // A NUL in the key stays in the key: the account never holds one.
    expect(installConnectionId('a', 'b\u0000c')).not.toBe(installConnectionId('a', 'b'));
    expect(() => installConnectionId('a\u0000b', 'c')).toThrow(/hold no NUL/);
  });

  it('refuses an empty account or key', () => {
    expect(() => installConnectionId('', 'k')).toThrow(/account/);
    expect(() => installConnectionId('acct-a', '')).toThrow(/key/);
  });
});
