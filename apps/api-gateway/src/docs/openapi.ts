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
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'docs-json',
    customSiteTitle: 'Athenic MCP platform API',
  });
}
