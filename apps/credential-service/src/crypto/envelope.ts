import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Keyring, MasterKey } from './keyring';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What a stored credential set is made of; the key version is a column of its own. */
export interface Envelope {
  keyVersion: number;
  /** The data key, encrypted by the master key of `keyVersion`: iv | ciphertext | tag. */
  wrappedKey: Buffer;
  /** The payload, encrypted by the data key: iv | ciphertext | tag. */
  ciphertext: Buffer;
}

/** Who a ciphertext belongs to; bound to it as AAD, so a copy in another row fails to decrypt. */
export interface Binding {
  accountId: string;
  connectionId: string;
  purpose: string;
}

export class DecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecryptionError';
  }
}

function aad(binding: Binding): Buffer {
  return Buffer.from(
    JSON.stringify([
      'athenic.credential.v1',
      binding.accountId,
      binding.connectionId,
      binding.purpose,
    ]),
  );
}

function wrapAad(binding: Binding, version: number): Buffer {
  return Buffer.concat([aad(binding), Buffer.from(`|key-v${version}`)]);
}

function encrypt(key: Buffer, plaintext: Buffer, associated: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associated);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

function decrypt(key: Buffer, blob: Buffer, associated: Buffer, what: string): Buffer {
  if (blob.length < IV_BYTES + TAG_BYTES) throw new DecryptionError(`${what} is truncated`);
  const iv = blob.subarray(0, IV_BYTES);
  const tag = blob.subarray(blob.length - TAG_BYTES);
  const body = blob.subarray(IV_BYTES, blob.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(associated);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    // One message for every cause (wrong key, tampered byte, another owner's row): no oracle.
    throw new DecryptionError(
      `${what} failed authentication: tampered, moved from another record, or the wrong key`,
    );
  }
}

/**
 * Envelope encryption: a fresh 256-bit data key per credential set encrypts the payload with
 * AES-256-GCM (random 96-bit IV, 128-bit tag); the current master key wraps the data key. Both
 * layers authenticate the owner binding. There is no unauthenticated path and no fallback.
 */
export function seal(plaintext: Buffer, binding: Binding, master: MasterKey): Envelope {
  const dataKey = randomBytes(32);
  try {
    return {
      keyVersion: master.version,
      wrappedKey: encrypt(master.key, dataKey, wrapAad(binding, master.version)),
      ciphertext: encrypt(dataKey, plaintext, aad(binding)),
    };
  } finally {
    dataKey.fill(0);
  }
}

export function open(envelope: Envelope, binding: Binding, keyring: Keyring): Buffer {
  const master = keyring.get(envelope.keyVersion);
  const dataKey = decrypt(
    master.key,
    envelope.wrappedKey,
    wrapAad(binding, envelope.keyVersion),
    'Unwrapping the data key',
  );
  try {
    return decrypt(dataKey, envelope.ciphertext, aad(binding), 'Decrypting the credentials');
  } finally {
    dataKey.fill(0);
  }
}

/** Re-wraps the data key under another master key; the payload ciphertext is untouched. */
export function rewrap(
  envelope: Envelope,
  binding: Binding,
  keyring: Keyring,
  target: MasterKey,
): Envelope {
  if (envelope.keyVersion === target.version) return envelope;
  const master = keyring.get(envelope.keyVersion);
  const dataKey = decrypt(
    master.key,
    envelope.wrappedKey,
    wrapAad(binding, envelope.keyVersion),
    'Unwrapping the data key',
  );
  try {
    return {
      keyVersion: target.version,
      wrappedKey: encrypt(target.key, dataKey, wrapAad(binding, target.version)),
      ciphertext: envelope.ciphertext,
    };
  } finally {
    dataKey.fill(0);
  }
}

/** A known value sealed under one master key, to detect a wrong key for a version at start. */
export function keyCheck(master: MasterKey): Buffer {
  return encrypt(
    master.key,
    Buffer.from('athenic key check'),
    Buffer.from(`key-check|v${master.version}`),
  );
}

export function verifyKeyCheck(master: MasterKey, check: Buffer): boolean {
  try {
    return (
      decrypt(
        master.key,
        check,
        Buffer.from(`key-check|v${master.version}`),
        'Key check',
      ).toString() === 'athenic key check'
    );
  } catch {
    return false;
  }
}
