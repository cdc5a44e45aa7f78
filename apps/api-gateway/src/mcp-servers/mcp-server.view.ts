import type { McpServerEntry } from '@athenic/contracts';
import { ApiProperty } from '@nestjs/swagger';

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
    enum: ['stdio'],
    description: 'How the platform talks to the server; remote transports are not supported yet.',
  })
  transport: string;

  @ApiProperty({
    enum: ['sandbox'],
    description: "How each connection's server is kept apart: its own sandbox.",
  })
  isolation: string;

  @ApiProperty({
    enum: ['public', 'account'],
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
      'How the server is started: an executable of the package, its arguments and variables (literals or credential:/config:/workdir: references).',
    type: 'object',
    additionalProperties: true,
  })
  launch: { command: string; args: string[]; env: Record<string, string> };

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
