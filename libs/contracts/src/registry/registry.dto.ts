import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsAccountId } from '../shared/validators';
import { isRemoteTransport, MAX_REMOTE_URL_LENGTH, REMOTE_TRANSPORTS } from './remote-template';

/** Server type ids: the slug that `mcp_server_id` takes. */
export const SERVER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

/** A server type id (`memory-server`), with the message that says what one looks like. */
export function IsServerId(): PropertyDecorator {
  return Matches(SERVER_ID_PATTERN, {
    message:
      '$property must be 2-63 characters of lower-case letters, digits and "-", starting with a letter or digit',
  });
}
/** npm `name@version`, scoped or not, with an exact version. */
export const NPM_PACKAGE_PATTERN =
  /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*@\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/;
/** An egress entry: a host name, `*.host` or `*` (any host). */
export const EGRESS_PATTERN =
  /^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:\d{1,5})?$/;

/** `stdio`: a package run in a sandbox; the others: a server already running elsewhere (remote-template.ts). */
export const TRANSPORTS = ['stdio', ...REMOTE_TRANSPORTS] as const;
export type Transport = (typeof TRANSPORTS)[number];
/** `public`: every account sees it; `account`: a template only its account sees. */
export const VISIBILITIES = ['public', 'account'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/**
 * How a type's servers are kept apart: `sandbox`, a sandbox per connection (stdio); `remote`, a
 * server running elsewhere reached over its URL behind the egress rule (remote-template.ts).
 */
export const SERVER_ISOLATIONS = ['sandbox', 'remote'] as const;
export type ServerIsolation = (typeof SERVER_ISOLATIONS)[number];

/** The isolation an entry's servers get, from its transport. */
export function serverIsolation(transport: Transport): ServerIsolation {
  return isRemoteTransport(transport) ? 'remote' : 'sandbox';
}

/**
 * How a server is started. `command` is a bin of the entry's package (or `node`), `args` items
 * and `env` values are literals or references: `credential:<key>`, `config:<key>`,
 * `credential-file:<key>` (the value written to a private file, the path passed) and
 * `workdir:<relative path>` (a path inside the connection's private working dir).
 */
export class LaunchSpec {
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  command: string;

  @IsArray()
  @ArrayMaxSize(64)
  @IsString({ each: true })
  @MaxLength(16384, { each: true })
  args: string[];

  @IsObject()
  env: Record<string, string>;
}

/**
 * Where a remote server is (`transport` "streamable-http" or "sse"): `url` may hold `{config_key}`
 * variables, header values `{config_key}` and `{credential:key}` ones
 * (`{"Authorization": "Bearer {credential:token}"}`). Checked by `checkRemoteTemplate`.
 */
export class RemoteSpec {
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_REMOTE_URL_LENGTH)
  url: string;

  @IsObject()
  headers: Record<string, string>;
}

/** What a server type or template says about its server (everything but its id and owner). */
export class McpServerFields {
  @IsString()
  @MinLength(1)
  @MaxLength(120)
  name: string;

  @IsString()
  @MaxLength(2000)
  description: string;

  @Matches(/^[a-z][a-z0-9-]{0,39}$/, {
    message: '$property must be a lower-case slug such as "database"',
  })
  category: string;

  @IsIn(TRANSPORTS, { message: `$property must be one of: ${TRANSPORTS.join(', ')}` })
  transport: Transport;

  @IsOptional()
  @Matches(NPM_PACKAGE_PATTERN, {
    message: '$property must be an npm package with an exact version, such as "name@1.2.3"',
  })
  package?: string;

  /** How a stdio server is started; not given for a remote one. */
  @ValidateIf((o: McpServerFields) => o.transport === 'stdio' || o.launch !== undefined)
  @IsObject()
  @ValidateNested()
  @Type(() => LaunchSpec)
  launch?: LaunchSpec;

  /** Where a remote server is; required for "streamable-http" and "sse", refused for "stdio". */
  @ValidateIf((o: McpServerFields) => o.transport !== 'stdio' || o.remote !== undefined)
  @IsObject()
  @ValidateNested()
  @Type(() => RemoteSpec)
  remote?: RemoteSpec;

  /** JSON Schema (type object) of the credentials; secret fields carry `writeOnly: true`. */
  @IsObject()
  credential_schema: Record<string, unknown>;

  /** JSON Schema (type object) of the non-secret configuration. */
  @IsObject()
  config_schema: Record<string, unknown>;

  @IsArray()
  @ArrayMaxSize(32)
  @Matches(EGRESS_PATTERN, {
    each: true,
    message: 'each value in $property must be a host name, "*.domain" or "*"',
  })
  egress: string[];
}

/**
 * The fields given to add a server type (service role: `public` by default) or a template of one
 * account (`visibility: "account"` with its `account_id`; an account key always makes these).
 */
export class CreateMcpServerCommand extends McpServerFields {
  @IsServerId()
  id: string;

  /** Default: `account` when `account_id` is given, else `public`. */
  @IsOptional()
  @IsIn(VISIBILITIES)
  visibility?: Visibility;

  /** The account that owns a template (`visibility: "account"`). */
  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

/** Replaces what a type or template says; `account_id`: the caller must own it (account keys). */
export class UpdateMcpServerCommand extends McpServerFields {
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  id: string;

  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

/** Deletes a type or template; `account_id`: the caller must own it (account keys). */
export class DeleteMcpServerCommand {
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  id: string;

  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

/**
 * Creates the type or template a `server.json` document of the official MCP Registry describes
 * (its npm package, else its first remote). `id`: the new entry's id, else derived from the
 * document's name. Visibility and owner as for `CreateMcpServerCommand`.
 */
export class ImportMcpServerCommand {
  @IsObject()
  document: Record<string, unknown>;

  @IsOptional()
  @IsServerId()
  id?: string;

  @IsOptional()
  @IsIn(VISIBILITIES)
  visibility?: Visibility;

  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

/** A server type of the catalog. */
export class McpServerEntry {
  @IsString()
  id: string;

  @IsString()
  name: string;

  @IsString()
  description: string;

  @IsString()
  category: string;

  @IsIn(TRANSPORTS)
  transport: Transport;

  /** The npm package that runs the server, or null for a command-only type. */
  @IsOptional()
  @IsString()
  package: string | null;

  /** The exact version of `package`, or null. */
  @IsOptional()
  @IsString()
  version: string | null;

  /** How a stdio server is started; null for a remote one. */
  @IsOptional()
  @ValidateNested()
  @Type(() => LaunchSpec)
  launch: LaunchSpec | null;

  /** Where a remote server is; null (or absent) for a stdio one. */
  @IsOptional()
  @ValidateNested()
  @Type(() => RemoteSpec)
  remote?: RemoteSpec | null;

  @IsObject()
  credential_schema: Record<string, unknown>;

  @IsObject()
  config_schema: Record<string, unknown>;

  @IsArray()
  @IsString({ each: true })
  egress: string[];

  /** Shipped with the platform (true) or added by an administrator or an account (false). */
  @IsBoolean()
  builtin: boolean;

  @IsIn(VISIBILITIES)
  visibility: Visibility;

  /** The account owning a template; null for a public type. */
  @IsOptional()
  @IsString()
  account_id: string | null;

  /** How its servers run apart from each other (from its transport). */
  @IsIn(SERVER_ISOLATIONS)
  isolation: ServerIsolation;

  /**
   * Set once a template or type is deleted. Only the platform's own lookups by id
   * (`include_deleted`) still find it, so its installs keep working until deleted themselves.
   */
  @IsOptional()
  @IsString()
  deleted_at: string | null;

  @IsString()
  created_at: string;

  @IsString()
  updated_at: string;
}

export class McpServerList {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => McpServerEntry)
  data: McpServerEntry[];
}

export class GetMcpServerQuery {
  @IsString()
  @MinLength(1)
  @MaxLength(128)
  id: string;

  /** Answer only what this account may see (public types and its own templates). */
  @IsOptional()
  @IsAccountId()
  account_id?: string;

  /** Find a deleted template or type too (a connection's deploy, its credentials). */
  @IsOptional()
  @IsBoolean()
  include_deleted?: boolean;
}

export class ListMcpServersQuery {
  /** Only what this account may see (public types and its own templates); else everything. */
  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

export class McpServerCreatedEvent {
  @IsString()
  id: string;

  @IsString()
  created_at: string;
}

/** A type or template changed or was deleted (`deleted: true`). */
export class McpServerChangedEvent {
  @IsString()
  id: string;

  @IsBoolean()
  deleted: boolean;

  @IsString()
  updated_at: string;
}
