import { defineCommand, defineEvent } from '../message';
import { Empty } from '../shared/empty.dto';
import {
  ApiKeyList,
  ApiKeyRevokedEvent,
  ApiKeyView,
  CreateApiKeyCommand,
  DeleteCredentialsCommand,
  DeletedCredentialsReply,
  KeyStatusReply,
  ListApiKeysQuery,
  PublicKeyReply,
  RetireKeyCommand,
  RevealCredentialsCommand,
  RevealedCredentialsReply,
  RevokeApiKeyCommand,
  RotateKeysCommand,
  StoreCredentialsCommand,
  StoredCredentialsReply,
  ValidateCredentialsCommand,
  ValidatedCredentialsReply,
  VerifiedApiKey,
  VerifyApiKeyQuery,
} from './credential.dto';

export const CredentialPublicKeyGet = defineCommand({
  name: 'credential.public-key.get',
  payload: Empty,
  reply: PublicKeyReply,
  summary:
    'The public key that credential values are sealed with before they travel (JWE, ECDH-ES+A256KW / A256GCM).',
});

export const CredentialSetStore = defineCommand({
  name: 'credential.credential-set.store',
  payload: StoreCredentialsCommand,
  reply: StoredCredentialsReply,
  summary:
    "Validates sealed credential values against the server type's credential schema and stores them envelope-encrypted for one connection. Every value must be bound to this account, connection and purpose (protected header ath_acct, ath_cid, ath_purp: connection-credentials; at install the connection is installConnectionId(account, idempotency key)). `validation_failed` names the bad key and why; nothing is stored then.",
});

export const CredentialSetValidate = defineCommand({
  name: 'credential.credential-set.validate',
  payload: ValidateCredentialsCommand,
  reply: ValidatedCredentialsReply,
  summary:
    "Checks sealed credential values against the server type's credential schema, storing nothing.",
});

export const CredentialSetReveal = defineCommand({
  name: 'credential.credential-set.reveal',
  payload: RevealCredentialsCommand,
  reply: RevealedCredentialsReply,
  summary:
    "Returns a connection's credentials sealed to the asking process's key, for a deployment. Platform services only (HMAC proof); every reveal is audited.",
});

export const CredentialSetDelete = defineCommand({
  name: 'credential.credential-set.delete',
  payload: DeleteCredentialsCommand,
  reply: DeletedCredentialsReply,
  summary:
    "Destroys a connection's credentials and their wrapped data key (crypto-shredding). Idempotent.",
});

export const CredentialApiKeyCreate = defineCommand({
  name: 'credential.api-key.create',
  payload: CreateApiKeyCommand,
  reply: ApiKeyView,
  summary: 'Records an account API key by its SHA-256 hash (the key itself never crosses the bus).',
});

export const CredentialApiKeyList = defineCommand({
  name: 'credential.api-key.list',
  payload: ListApiKeysQuery,
  reply: ApiKeyList,
  summary: "An account's API keys, oldest first, without keys or hashes.",
});

export const CredentialApiKeyRevoke = defineCommand({
  name: 'credential.api-key.revoke',
  payload: RevokeApiKeyCommand,
  reply: ApiKeyView,
  summary: 'Revokes an API key; idempotent; emits credential.api-key.revoked.',
});

export const CredentialApiKeyVerify = defineCommand({
  name: 'credential.api-key.verify',
  payload: VerifyApiKeyQuery,
  reply: VerifiedApiKey,
  summary: 'Finds the live API key with this hash; `not_found` when unknown or revoked.',
});

export const CredentialApiKeyRevoked = defineEvent({
  name: 'credential.api-key.revoked',
  payload: ApiKeyRevokedEvent,
  summary: 'An API key stopped working; caches of its verification must drop it.',
});

export const CredentialKeysRotate = defineCommand({
  name: 'credential.keys.rotate',
  payload: RotateKeysCommand,
  reply: KeyStatusReply,
  summary:
    'Starts (or resumes) re-wrapping every data key under the current master key, online; idempotent.',
});

export const CredentialKeysStatus = defineCommand({
  name: 'credential.keys.get',
  payload: Empty,
  reply: KeyStatusReply,
  summary: 'Master key versions, credential sets per version, and rotation progress.',
});

export const CredentialKeysRetire = defineCommand({
  name: 'credential.keys.retire',
  payload: RetireKeyCommand,
  reply: KeyStatusReply,
  summary:
    'Retires a master key version; refused (`invalid_transition`) while it still wraps data or is current.',
});
