import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsISO8601,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateNested,
  IsBoolean,
} from 'class-validator';
import { ACTOR_PATTERN } from '../credential/credential.dto';
import { IsAccountId } from '../shared/validators';

/** The guide's lifecycle states, exactly. */
export const CONNECTION_STATUSES = [
  'mcpPending',
  'mcpDeploying',
  'mcpRunning',
  'mcpStopped',
  'mcpError',
] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];
export const DESIRED_STATES = ['running', 'stopped'] as const;
export type DesiredState = (typeof DESIRED_STATES)[number];
export const ISOLATIONS = ['bubblewrap', 'none', 'e2b', 'remote'] as const;
export type Isolation = (typeof ISOLATIONS)[number];

export class ConnectionView {
  @IsUUID()
  id: string;

  @IsString()
  account_id: string;

  @IsString()
  mcp_server_id: string;

  @IsString()
  title: string;

  @IsIn(CONNECTION_STATUSES)
  status: ConnectionStatus;

  @IsString()
  status_reason: string;

  @IsIn(DESIRED_STATES)
  desired_state: DesiredState;

  /** How the server is isolated, once it has been deployed. */
  @IsOptional()
  @IsIn(ISOLATIONS)
  isolation: Isolation | null;

  @IsString()
  created_at: string;

  @IsString()
  updated_at: string;

  @IsOptional()
  @IsString()
  last_active_at: string | null;
}

export class InstallConnectionCommand {
  @IsAccountId()
  account_id: string;

  @IsString()
  @MinLength(1)
  @MaxLength(64)
  mcp_server_id: string;

  @IsString()
  @MinLength(1)
  @MaxLength(200)
  title: string;

  @IsOptional()
  @IsObject()
  config?: Record<string, unknown>;

  /**
   * Credential values, each a compact JWE sealed for the credential service, bound to the account
   * and to the connection this install makes: installConnectionId(account_id, idempotency key).
   */
  @IsObject()
  sealed_credentials: Record<string, string>;

  /** The caller's Idempotency-Key (scope: the account, kept 24 h); it determines the connection's id. */
  @IsOptional()
  @Matches(/^[\x21-\x7e]{1,255}$/, {
    message: 'idempotency_key must be 1-255 printable ASCII characters',
  })
  idempotency_key?: string;

  /** A keyed hash of the request as the caller sent it: the same key with another body is a conflict. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{43}$/)
  request_hash?: string;

  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class InstallConnectionReply {
  @ValidateNested()
  @Type(() => ConnectionView)
  connection: ConnectionView;

  /** True when this is the stored answer to an earlier request with the same Idempotency-Key. */
  @IsBoolean()
  replayed: boolean;
}

/** One connection, optionally limited to an account (an account key sees only its own). */
export class ConnectionQuery {
  @IsUUID()
  id: string;

  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

export class ConnectionCommand extends ConnectionQuery {
  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class ReplaceCredentialsCommand extends ConnectionCommand {
  @IsObject()
  sealed_credentials: Record<string, string>;
}

export class ListConnectionsQuery {
  @IsAccountId()
  account_id: string;
}

export class ConnectionList {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ConnectionView)
  data: ConnectionView[];
}

export class DeletedConnectionReply {
  @IsUUID()
  id: string;
}

export class ConnectionEventView {
  @IsString()
  at: string;

  @IsOptional()
  @IsIn(CONNECTION_STATUSES)
  from: ConnectionStatus | null;

  @IsIn(CONNECTION_STATUSES)
  to: ConnectionStatus;

  @IsString()
  reason: string;
}

export class ConnectionEventList {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ConnectionEventView)
  data: ConnectionEventView[];
}

export class ConnectionLogsQuery extends ConnectionQuery {
  @IsInt()
  @Min(1)
  @Max(1000)
  tail: number;
}

export const LOG_STREAMS = ['stdout', 'stderr', 'system'] as const;

export class ConnectionLogView {
  @IsString()
  at: string;

  @IsIn(LOG_STREAMS)
  stream: (typeof LOG_STREAMS)[number];

  @IsString()
  line: string;
}

export class ConnectionLogList {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ConnectionLogView)
  data: ConnectionLogView[];
}

export class AccountHealthQuery {
  @IsAccountId()
  account_id: string;
}

export class ConnectionHealthView {
  @IsUUID()
  id: string;

  @IsString()
  title: string;

  @IsIn(CONNECTION_STATUSES)
  status: ConnectionStatus;

  /** Null when the connection is not running. */
  @IsOptional()
  @IsBoolean()
  healthy: boolean | null;

  @IsOptional()
  @IsNumber()
  response_time_ms: number | null;

  @IsOptional()
  @IsString()
  error: string | null;
}

export class AccountHealthReply {
  @IsIn(['healthy', 'unhealthy'])
  status: 'healthy' | 'unhealthy';

  @IsString()
  checked_at: string;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ConnectionHealthView)
  connections: ConnectionHealthView[];
}

export class ConnectionRouteQuery {
  @IsUUID()
  id: string;
}

/** Where the gateway's MCP endpoint sends a connection's traffic. */
export class ConnectionRouteReply {
  @IsUUID()
  id: string;

  @IsString()
  account_id: string;

  @IsIn(CONNECTION_STATUSES)
  status: ConnectionStatus;

  @IsOptional()
  @IsString()
  bridge_url: string | null;
}

export class TouchConnectionsCommand {
  @IsArray()
  @ArrayMaxSize(1000)
  @IsUUID('all', { each: true })
  connection_ids: string[];

  @IsISO8601({ strict: true })
  at: string;
}

export class TouchedReply {
  @IsInt()
  touched: number;
}

export class ConnectionStatusChangedEvent {
  @IsUUID()
  connection_id: string;

  @IsString()
  account_id: string;

  @IsOptional()
  @IsIn(CONNECTION_STATUSES)
  from: ConnectionStatus | null;

  @IsIn(CONNECTION_STATUSES)
  to: ConnectionStatus;

  @IsString()
  reason: string;

  @IsIn(DESIRED_STATES)
  desired_state: DesiredState;

  @IsString()
  at: string;
}

export class ConnectionDeletedEvent {
  @IsUUID()
  connection_id: string;

  @IsString()
  account_id: string;

  @IsString()
  at: string;
}
