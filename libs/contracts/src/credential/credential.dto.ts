import { Type } from 'class-transformer';
import {
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsISO8601,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
} from 'class-validator';
import { IsAccountId } from '../shared/validators';

/** A compact JWE: five base64url parts. */
export const COMPACT_JWE_PATTERN =
  /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$/;
/** Who asked, for the audit log: `service-role`, `account:<id>`, `api-key:<id>` or a service name. */
export const ACTOR_PATTERN = /^[A-Za-z0-9._:@-]{1,200}$/;

export class PublicKeyReply {
  /** Key id, also the `kid` of the JWE header. */
  @IsString()
  kid: string;

  /** The public key as a JWK (EC P-256), for ECDH-ES+A256KW with A256GCM. */
  @IsObject()
  jwk: Record<string, unknown>;
}

/**
 * Credentials for one connection, each value sealed as a compact JWE for the credential
 * service (never plaintext on the bus). Replaces any set stored for the connection.
 */
export class StoreCredentialsCommand {
  @IsAccountId()
  account_id: string;

  @IsUUID()
  connection_id: string;

  @IsString()
  @MinLength(1)
  @MaxLength(64)
  mcp_server_id: string;

  /** Credential name to sealed value (compact JWE for the key of `credential.public-key.get`). */
  @IsObject()
  sealed_values: Record<string, string>;

  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class StoredCredentialsReply {
  @IsUUID()
  connection_id: string;

  /** Names of the stored credentials, never their values. */
  @IsArray()
  @IsString({ each: true })
  keys: string[];

  @IsInt()
  key_version: number;

  @IsString()
  updated_at: string;
}

/** Checks credentials against a server type without storing them. */
export class ValidateCredentialsCommand {
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  mcp_server_id: string;

  @IsObject()
  sealed_values: Record<string, string>;
}

export class ValidatedCredentialsReply {
  @IsArray()
  @IsString({ each: true })
  keys: string[];
}

/**
 * A deployment asks for a connection's credentials. Only platform services can ask: `proof` is an
 * HMAC over the other fields with a key derived from INTERNAL_SECRET. The answer is sealed to
 * `recipient_jwk`, a key pair only the asking process holds.
 */
export class RevealCredentialsCommand {
  @IsAccountId()
  account_id: string;

  @IsUUID()
  connection_id: string;

  @Matches(ACTOR_PATTERN)
  requester: string;

  @IsObject()
  recipient_jwk: Record<string, unknown>;

  @IsISO8601({ strict: true })
  requested_at: string;

  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'proof must be a base64url HMAC-SHA256' })
  proof: string;
}

export class RevealedCredentialsReply {
  @IsUUID()
  connection_id: string;

  /** Compact JWE (ECDH-ES+A256KW, A256GCM) of `{"values": {...}}` for `recipient_jwk`. */
  @Matches(COMPACT_JWE_PATTERN)
  sealed: string;
}

export class DeleteCredentialsCommand {
  @IsAccountId()
  account_id: string;

  @IsUUID()
  connection_id: string;

  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class DeletedCredentialsReply {
  @IsUUID()
  connection_id: string;

  /** False when there was nothing to delete (already deleted). */
  @IsBoolean()
  deleted: boolean;
}

// API keys. The gateway makes the key and shows it once; only its hash crosses the bus.

export class CreateApiKeyCommand {
  @IsAccountId()
  account_id: string;

  @IsString()
  @MinLength(1)
  @MaxLength(100)
  name: string;

  @Matches(/^[a-f0-9]{64}$/, { message: 'key_hash must be a hex SHA-256' })
  key_hash: string;

  /** The first characters of the key, to recognise it in lists. */
  @Matches(/^[A-Za-z0-9_-]{4,16}$/)
  key_prefix: string;

  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class ApiKeyView {
  @IsUUID()
  id: string;

  @IsString()
  account_id: string;

  @IsString()
  name: string;

  @IsString()
  key_prefix: string;

  @IsString()
  created_at: string;

  @IsOptional()
  @IsString()
  revoked_at: string | null;
}

export class ListApiKeysQuery {
  @IsAccountId()
  account_id: string;
}

export class ApiKeyList {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ApiKeyView)
  data: ApiKeyView[];
}

export class RevokeApiKeyCommand {
  @IsUUID()
  id: string;

  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class VerifyApiKeyQuery {
  @Matches(/^[a-f0-9]{64}$/, { message: 'key_hash must be a hex SHA-256' })
  key_hash: string;
}

export class VerifiedApiKey {
  @IsUUID()
  id: string;

  @IsString()
  account_id: string;
}

export class ApiKeyRevokedEvent {
  @IsUUID()
  id: string;

  @IsString()
  account_id: string;

  @Matches(/^[a-f0-9]{64}$/)
  key_hash: string;
}

// Master keys and rotation.

export class RotateKeysCommand {
  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class RetireKeyCommand {
  @IsInt()
  @Min(1)
  version: number;

  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class KeyVersionView {
  @IsInt()
  version: number;

  @IsIn(['current', 'active', 'retired'])
  status: 'current' | 'active' | 'retired';

  /** Credential sets whose data key this version wraps. */
  @IsInt()
  credential_sets: number;
}

export class RotationView {
  @IsUUID()
  id: string;

  @IsInt()
  target_version: number;

  @IsIn(['running', 'completed', 'failed'])
  status: 'running' | 'completed' | 'failed';

  @IsInt()
  total: number;

  @IsInt()
  done: number;

  @IsOptional()
  @IsString()
  error: string | null;

  @IsString()
  started_at: string;

  @IsOptional()
  @IsString()
  finished_at: string | null;
}

export class KeyStatusReply {
  @IsInt()
  current_version: number;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => KeyVersionView)
  versions: KeyVersionView[];

  /** The latest rotation, or null if none ran. */
  @IsOptional()
  @ValidateNested()
  @Type(() => RotationView)
  rotation: RotationView | null;
}
