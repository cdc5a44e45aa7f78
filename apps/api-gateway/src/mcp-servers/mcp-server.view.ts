import {
  type McpServerEntry,
  SERVER_ISOLATIONS,
  TRANSPORTS,
  VISIBILITIES,
} from '@athenic/contracts';
import { ApiProperty } from '@nestjs/swagger';

/** Where a remote server type's server is (no secret here: credentials are `{credential:key}`). */
export class McpServerRemoteView {
  @ApiProperty({
    example: 'https://{host}/mcp',
    description:
      "The server's URL; {config_key} variables are filled from the connection's config.",
  })
  url: string;

  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'string' },
    example: { Authorization: 'Bearer {credential:token}' },
    description:
      'Headers sent with every request; {credential:key} and {config_key} are filled in by the sandbox service only.',
  })
  headers: Record<string, string>;
}

/** A server type as the REST API shows it. */
export class McpServerView {
  @ApiProperty({ example: 'memory-server' })
  id: string;

  @ApiProperty({ example: 'Memory' })
  name: string;

  @ApiProperty()
  description: string;

  @ApiProperty({ example: 'knowledge' })
  category: string;

  @ApiProperty({
    enum: TRANSPORTS,
    description:
      '"stdio": a package run in a sandbox; "streamable-http" or "sse": a remote server the platform connects to (no sandbox).',
  })
  transport: string;

  @ApiProperty({ type: McpServerRemoteView, nullable: true })
  remote: McpServerRemoteView | null;

  @ApiProperty({
    enum: SERVER_ISOLATIONS,
    description:
      'How each connection\'s server is kept apart: "sandbox", its own sandbox (stdio); "remote", a server running elsewhere reached through the egress rule.',
  })
  isolation: string;

  @ApiProperty({
    enum: VISIBILITIES,
    description: 'public: every account sees it; account: a template only its own account sees.',
  })
  visibility: string;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The account owning a template; null for a public type.',
  })
  account_id: string | null;

  @ApiProperty({ description: 'Shipped with the platform.' })
  builtin: boolean;

  @ApiProperty({ type: String, nullable: true, example: '@modelcontextprotocol/server-memory' })
  package: string | null;

  @ApiProperty({ type: String, nullable: true, example: '2026.8.31' })
  version: string | null;

  @ApiProperty({
    description: 'JSON Schema of the credentials; secret fields carry writeOnly: true.',
    type: 'object',
    additionalProperties: true,
  })
  credential_schema: Record<string, unknown>;

  @ApiProperty({
    description: 'JSON Schema of the non-secret configuration.',
    type: 'object',
    additionalProperties: true,
  })
  config_schema: Record<string, unknown>;

  @ApiProperty({
    type: [String],
    description: 'Hosts the server must reach; [] means no network, "*" any host.',
  })
  egress: string[];

  @ApiProperty({
    description:
      'How a stdio server is started: an executable of the package, its arguments and variables (literals or credential:/config:/workdir: references); null for a remote server.',
    type: 'object',
    additionalProperties: true,
    nullable: true,
  })
  launch: { command: string; args: string[]; env: Record<string, string> } | null;

  @ApiProperty()
  created_at: string;

  @ApiProperty()
  updated_at: string;
}

export class McpServerListView {
  @ApiProperty({ type: [McpServerView] })
  data: McpServerView[];
}

export function toView(entry: McpServerEntry): McpServerView {
  return {
    id: entry.id,
    name: entry.name,
    description: entry.description,
    category: entry.category,
    transport: entry.transport,
    remote: entry.remote ? { url: entry.remote.url, headers: { ...entry.remote.headers } } : null,
    isolation: entry.isolation,
    visibility: entry.visibility,
    account_id: entry.account_id,
    builtin: entry.builtin,
    package: entry.package,
    version: entry.version,
    credential_schema: entry.credential_schema,
    config_schema: entry.config_schema,
    egress: entry.egress,
    launch: entry.launch,
    created_at: entry.created_at,
    updated_at: entry.updated_at,
  };
}
