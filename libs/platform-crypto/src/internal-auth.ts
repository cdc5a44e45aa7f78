import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Keys that two platform services agree on without ever sending them: each is derived from
 * INTERNAL_SECRET for one purpose, so a key for one purpose opens nothing else.
 */
export function deriveKey(internalSecret: string, purpose: string, length = 32): Buffer {
  return Buffer.from(
    hkdfSync(
      'sha256',
      Buffer.from(internalSecret),
      Buffer.alloc(0),
      Buffer.from(`athenic:${purpose}`),
      length,
    ),
  );
}

function canonical(fields: Record<string, unknown>): string {
  return JSON.stringify(
    Object.keys(fields)
      .sort()
      .map((key) => [key, fields[key]]),
  );
}

/** An HMAC proving the sender holds INTERNAL_SECRET, over exactly these fields. */
export function signFields(
  internalSecret: string,
  purpose: string,
  fields: Record<string, unknown>,
): string {
  return createHmac('sha256', deriveKey(internalSecret, purpose))
    .update(canonical(fields))
    .digest('base64url');
}

export function verifyFields(
  internalSecret: string,
  purpose: string,
  fields: Record<string, unknown>,
  proof: string,
): boolean {
  const expected = Buffer.from(signFields(internalSecret, purpose, fields));
  const given = Buffer.from(proof);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** The bearer token of a connection's bridge: the sandbox side and the gateway derive the same one. */
export function bridgeToken(internalSecret: string, connectionId: string): string {
  return deriveKey(internalSecret, `bridge:${connectionId}`).toString('base64url');
}

/** Purpose of the HMAC that proves a reveal request comes from a platform service. */
export const REVEAL_PROOF_PURPOSE = 'credential-reveal';
