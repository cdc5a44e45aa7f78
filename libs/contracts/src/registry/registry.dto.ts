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
import { MAX_REMOTE_URL_LENGTH, REMOTE_TRANSPORTS } from './remote-template';

/** Server type ids: the slug that `mcp_server_id` takes. */
export const SERVER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;
/** npm `name@version`, scoped or not, with an exact version. */
export const NPM_PACKAGE_PATTERN =
  /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*@\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/;
/** An egress entry: a host name, `*.host` or `*` (any host). */
export const EGRESS_PATTERN =
  /^(\*|(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:\d{1,5})?$/;

/** `stdio`: a package run in a sandbox; the others: a server already running elsewhere (remote-template.ts). */
export const TRANSPORTS = ['stdio', ...REMOTE_TRANSPORTS] as const;
export type Transport = (typeof TRANSPORTS)[number];

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

/** The fields an administrator gives to add a server type. */
export class CreateMcpServerCommand {
  @Matches(SERVER_ID_PATTERN, {
    message:
      '$property must be 2-63 characters of lower-case letters, digits and "-", starting with a letter or digit',
  })
  id: string;

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

  @IsIn(TRANSPORTS)
  transport: Transport;

  @IsOptional()
  @Matches(NPM_PACKAGE_PATTERN, {
    message: '$property must be an npm package with an exact version, such as "name@1.2.3"',
  })
  package?: string;

  /** How a stdio server is started; not given for a remote one. */
  @ValidateIf((o: CreateMcpServerCommand) => o.transport === 'stdio' || o.launch !== undefined)
  @IsObject()
  @ValidateNested()
  @Type(() => LaunchSpec)
  launch?: LaunchSpec;

  /** Where a remote server is; required for "streamable-http" and "sse", refused for "stdio". */
  @ValidateIf((o: CreateMcpServerCommand) => o.transport !== 'stdio' || o.remote !== undefined)
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

  /** Shipped with the platform (true) or added by an administrator (false). */
  @IsBoolean()
  builtin: boolean;

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
}

export class McpServerCreatedEvent {
  @IsString()
  id: string;

  @IsString()
  created_at: string;
}
