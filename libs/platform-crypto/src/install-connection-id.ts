import { createHash } from 'node:crypto';

/** What the hash input starts with, so the digest means nothing anywhere else. */
export const INSTALL_CONNECTION_DOMAIN = 'athenic-install-connection';

/**
 * The id of the connection an install makes, known before the install runs: whoever seals its
 * credential values (the gateway, or a client with the published key) binds them to it
 * (`ath_cid`), and the credential service stores them for that connection only. A value sealed
 * for one install is then refused in any other, of this account or another.
 *
 * A UUID in the RFC 9562 version 8 layout: the first 16 bytes of
 * SHA-256(`athenic-install-connection` NUL account NUL key), UTF-8, with the version nibble set
 * to 8 and the variant bits to 10. An account id never holds a NUL (it is refused here), so the
 * first NUL after the account ends it and no two (account, key) pairs hash the same input.
 *
 * `key` is the install's idempotency key: the caller's Idempotency-Key, or the one the gateway
 * makes up (`request:<uuid>`), or `delivery:<message id>` for a bus command without one. The same
 * key for the same account is the same connection; a deleted connection's id comes back if its
 * key is used again after the deletion (the idempotency record goes with the connection).
 */
export function installConnectionId(accountId: string, idempotencyKey: string): string {
  if (accountId.length === 0 || accountId.includes('\0'))
    throw new Error('installConnectionId: the account id must be non-empty and hold no NUL');
  if (idempotencyKey.length === 0)
    throw new Error('installConnectionId: the idempotency key must be non-empty');
  const digest = createHash('sha256')
    .update(`${INSTALL_CONNECTION_DOMAIN}\0${accountId}\0${idempotencyKey}`, 'utf8')
    .digest();
  const bytes = digest.subarray(0, 16);
  bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
  bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
