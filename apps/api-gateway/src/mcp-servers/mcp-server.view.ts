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

  @ApiProperty({ enum: ['stdio'] })
  transport: string;

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
    package: entry.package,
    version: entry.version,
    credential_schema: entry.credential_schema,
    config_schema: entry.config_schema,
    egress: entry.egress,
  };
}
