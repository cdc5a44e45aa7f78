import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import type { GatewayConfig } from './config/env';
import { setupOpenApi } from './docs/openapi';
import { installMcpFastPath } from './mcp/mcp-fast-path';
import { serveConsole } from './http/console';
import { configureRequestPipeline } from './http/request-pipeline';
import { answerClientErrors, securityHeaders } from './http/security';

/** The gateway's HTTP app, fully configured but not listening (main.ts and tests share it). */
export async function createGatewayApp(
  config: GatewayConfig,
  options: { logs?: boolean } = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.register(config), {
    bodyParser: false,
    bufferLogs: true,
    ...(options.logs === false ? { logger: false } : {}),
  });
  if (options.logs !== false) app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // API answers are not revalidated by hash: computing one per answer cost more than it saved.
  app.set('etag', false);
  app.use(securityHeaders);
  answerClientErrors(app.getHttpServer());
  serveConsole(app, config.consoleDir);
  configureRequestPipeline(app);
  installMcpFastPath(app);
  setupOpenApi(app, config.publicBaseUrl);
  return app;
}
