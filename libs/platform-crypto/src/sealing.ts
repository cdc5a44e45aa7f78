import {
  CompactEncrypt,
  type JWK,
  calculateJwkThumbprint,
  compactDecrypt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
} from 'jose';

/**
 * Secrets never travel in the clear between services: each value is a compact JWE sealed to the
 * one recipient that may read it (ECDH-ES+A256KW key agreement, A256GCM content encryption).
 */
export const SEAL_ALG = 'ECDH-ES+A256KW';
export const SEAL_ENC = 'A256GCM';

export type PrivateKey = Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>;

export interface RecipientKeyPair {
  kid: string;
  publicJwk: JWK;
  privateJwk: JWK;
  privateKey: PrivateKey;
}

/** A fresh P-256 key pair for receiving sealed values. */
export async function generateRecipientKeyPair(): Promise<RecipientKeyPair> {
  const { publicKey, privateKey } = await generateKeyPair(SEAL_ALG, {
    crv: 'P-256',
    extractable: true,
  });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    publicJwk: { ...publicJwk, kid, alg: SEAL_ALG, use: 'enc' },
    privateJwk: { ...privateJwk, kid },
    privateKey: privateKey as PrivateKey,
  };
}

export async function importPrivateKey(privateJwk: JWK): Promise<PrivateKey> {
  return (await importJWK(privateJwk, SEAL_ALG)) as PrivateKey;
}

/** Checks a JWK is an EC P-256 public key we can seal to; returns the key id. */
export async function checkRecipientJwk(jwk: Record<string, unknown>): Promise<string> {
  if (
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    typeof jwk.x !== 'string' ||
    typeof jwk.y !== 'string' ||
    'd' in jwk
  ) {
    throw new Error('recipient key must be a public EC P-256 JWK');
  }
  return calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y });
}

/**
 * Whom a sealed value is for. Carried in the JWE's protected header (`ath_acct`, `ath_cid`,
 * `ath_purp`), which the encryption authenticates: changing it breaks the value. A value sealed for
 * one account, connection and purpose is refused anywhere else (see `bindingMismatch`).
 */
export interface SealBinding {
  account: string;
  /**
   * The connection: its id, or at install `installConnectionId(account, idempotency key)`, the id
   * the install will make. The credential service stores no value without it; a value only
   * checked against a type (`credential.credential-set.validate`) may leave it out.
   */
  connection?: string;
  purpose: string;
}

/** The purpose of credential values sent for a connection. */
export const CONNECTION_CREDENTIALS_PURPOSE = 'connection-credentials';

export async function seal(
  plaintext: string,
  recipient: JWK,
  binding?: SealBinding,
): Promise<string> {
  const key = await importJWK(
    { kty: recipient.kty, crv: recipient.crv, x: recipient.x, y: recipient.y },
    SEAL_ALG,
  );
  const kid =
    recipient.kid ??
    (await calculateJwkThumbprint({
      kty: 'EC',
      crv: recipient.crv!,
      x: recipient.x!,
      y: recipient.y!,
    }));
  return new CompactEncrypt(new TextEncoder().encode(plaintext))
    .setProtectedHeader({
      alg: SEAL_ALG,
      enc: SEAL_ENC,
      kid,
      ...(binding
        ? {
            ath_acct: binding.account,
            ...(binding.connection ? { ath_cid: binding.connection } : {}),
            ath_purp: binding.purpose,
          }
        : {}),
    })
    .encrypt(key);
}

/** Opens a sealed value and says whom it was sealed for (nothing, when it was sealed unbound). */
export async function unsealBound(
  jwe: string,
  privateKey: PrivateKey,
): Promise<{ plaintext: string; binding: Partial<SealBinding> }> {
  const { plaintext, protectedHeader } = await compactDecrypt(jwe, privateKey, {
    keyManagementAlgorithms: [SEAL_ALG],
    contentEncryptionAlgorithms: [SEAL_ENC],
  });
  const text = (name: string) =>
    typeof protectedHeader[name] === 'string' ? (protectedHeader[name] as string) : undefined;
  return {
    plaintext: new TextDecoder().decode(plaintext),
    binding: { account: text('ath_acct'), connection: text('ath_cid'), purpose: text('ath_purp') },
  };
}

/** How to bind a value to its connection, for the messages of `bindingMismatch`. */
const CONNECTION_HINT =
  "seal it with ath_cid: at install installConnectionId(account, Idempotency-Key) of @athenic/platform-crypto, sending that Idempotency-Key; afterwards the connection's id";

/**
 * Why a value's binding does not allow it here, or undefined when it does: the account, the
 * purpose and the connection must all be the ones named. A value sealed at install names the
 * connection the install makes (`installConnectionId`), so it cannot be replayed into another
 * install, not even one of the same account.
 */
export function bindingMismatch(
  found: Partial<SealBinding>,
  here: { account: string; connection: string; purpose: string },
): string | undefined {
  if (found.account === undefined || found.purpose === undefined)
    return 'it is not bound to an account (seal it with the ath_acct and ath_purp header fields)';
  if (found.account !== here.account) return 'it was sealed for another account';
  if (found.purpose !== here.purpose) return 'it was sealed for another purpose';
  if (found.connection === undefined) return `it is not bound to a connection (${CONNECTION_HINT})`;
  if (found.connection !== here.connection)
    return `it was sealed for another connection (${CONNECTION_HINT})`;
  return undefined;
}

export async function unseal(jwe: string, privateKey: PrivateKey): Promise<string> {
  const { plaintext } = await compactDecrypt(jwe, privateKey, {
    keyManagementAlgorithms: [SEAL_ALG],
    contentEncryptionAlgorithms: [SEAL_ENC],
  });
  return new TextDecoder().decode(plaintext);
}

/** The `kid` of a compact JWE's protected header, or undefined when the text is not a JWE. */
export function sealedKid(value: string): string | undefined {
  if (
    !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/.test(value)
  )
    return undefined;
  try {
    const header = decodeProtectedHeader(value);
    return typeof header.kid === 'string' && header.alg === SEAL_ALG && header.enc === SEAL_ENC
      ? header.kid
      : undefined;
  } catch {
    return undefined;
  }
}
