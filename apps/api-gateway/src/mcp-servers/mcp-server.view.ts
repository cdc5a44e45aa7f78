import { type McpServerEntry, TRANSPORTS } from '@athenic/contracts';
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
    package: entry.package,
    version: entry.version,
    credential_schema: entry.credential_schema,
    config_schema: entry.config_schema,
    egress: entry.egress,
  };
}
