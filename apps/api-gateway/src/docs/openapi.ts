import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { addContractSchemas } from './contract-schemas';

/** The OpenAPI document at /docs-json and its UI at /docs. */
export function setupOpenApi(app: INestApplication, publicBaseUrl: string): void {
  const config = new DocumentBuilder()
    .setTitle('Athenic MCP platform')
    .setDescription(
      'Pick MCP servers from the registry, hand over credentials once, run each server in its own sandbox and use it from AI agents. ' +
        'Every route except /health and /docs needs "Authorization: Bearer <key>".',
    )
    .setVersion('1')
    .addServer(publicBaseUrl)
    .addBearerAuth()
    .build();
  const document = addContractSchemas(SwaggerModule.createDocument(app, config));
  // The MCP endpoint is served ahead of Nest (mcp/mcp-fast-path.ts), so it is described here.
  const mcp = (summary: string) => ({
    tags: ['mcp-connections'],
    summary,
    security: [{ bearer: [] }],
    parameters: [
      {
        name: 'id',
        in: 'path' as const,
        required: true,
        schema: { type: 'string' as const, format: 'uuid' },
      },
    ],
    responses: {
      '200': {
        description: 'MCP Streamable HTTP response (application/json or text/event-stream).',
      },
      '401': { description: 'No or bad key (WWW-Authenticate: Bearer).' },
      '404': { description: 'No such connection for this key.' },
      '409': { description: 'connection_not_running' },
    },
  });
  document.paths['/functions/v1/mcp-connections/{id}/mcp'] = {
    post: mcp(
      'Sends MCP JSON-RPC messages to the connection (MCP Streamable HTTP); bodies up to 4 MiB.',
    ),
    get: mcp("Opens the session's stream of server messages (text/event-stream)."),
    delete: mcp('Ends an MCP session.'),
  };
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Athenic MCP platform API',
  });
}
