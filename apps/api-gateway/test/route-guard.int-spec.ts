import { createTestInfrastructure, type TestInfrastructure } from '@athenic/testing';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { loadConfig } from '../src/config/env';
import { createGatewayApp } from '../src/gateway-app';
import { PUBLIC_PATHS } from '../src/http/request-pipeline';

interface Route {
  method: string;
  path: string;
}

/** Every route the gateway's router really holds, from Express itself (not from the docs). */
function routesOf(app: NestExpressApplication): Route[] {
  const router = (
    app.getHttpAdapter().getInstance() as {
      router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
    }
  ).router;
  return router.stack
    .filter((layer) => layer.route)
    .flatMap((layer) =>
      Object.keys(layer.route!.methods).map((method) => ({
        method: method.toUpperCase(),
        path: layer.route!.path,
      })),
    );
}

function concrete(path: string): string {
  return path
    .replace('{*path}', 'any/unknown/path')
    .replace(/:([A-Za-z_]+)/g, (_, name: string) =>
      name === 'version' ? 'v1' : '00000000-0000-4000-8000-000000000000',
    );
}

describe('every gateway route requires a key, except the public list', () => {
  let infra: TestInfrastructure;
  let app: NestExpressApplication;
  let routes: Route[];

  beforeAll(async () => {
    infra = await createTestInfrastructure('route-guard');
    const config = loadConfig({
      AMQP_URL: infra.amqpUrl,
      DATABASE_URL: infra.databaseUrl,
      SERVICE_ROLE_KEY: randomBytes(32).toString('hex'),
      INTERNAL_SECRET: randomBytes(32).toString('hex'),
      LOG_LEVEL: 'silent',
    });
    app = await createGatewayApp(config, { logs: false });
    await app.init();
    routes = routesOf(app);
  });

  afterAll(async () => {
    await app?.close();
    await infra?.dispose();
  });

  it('finds the routes (the enumeration itself works)', () => {
    expect(routes.length).toBeGreaterThan(8);
    expect(routes).toEqual(
      expect.arrayContaining([
        { method: 'GET', path: '/functions/v1/mcp-servers' },
        { method: 'GET', path: '/health' },
      ]),
    );
  });

  it('answers 401 with WWW-Authenticate on every non-public route called without a key', async () => {
    const unguarded: string[] = [];
    for (const route of routes) {
      if (PUBLIC_PATHS.some((p) => route.path === p || route.path.startsWith(`${p}/`))) continue;
      // CONNECT opens a tunnel; an HTTP client cannot send it as a plain request.
      if (route.method === 'CONNECT') continue;
      const call = request(app.getHttpServer())[route.method.toLowerCase() as 'get'](
        concrete(route.path),
      );
      const res = await (
        ['GET', 'HEAD', 'OPTIONS', 'TRACE'].includes(route.method)
          ? call
          : call.set('content-type', 'application/json').send('{}')
      ).catch((e: Error) => {
        throw new Error(`${route.method} ${route.path}: ${e.message}`);
      });
      // HEAD answers carry no body; the status and header say enough.
      const body = route.method === 'HEAD' || res.body.error === 'unauthorized';
      if (res.status !== 401 || res.headers['www-authenticate'] !== 'Bearer' || !body) {
        unguarded.push(`${route.method} ${route.path} -> ${res.status}`);
      }
    }
    expect(unguarded).toEqual([]);
  });

  it('guards the MCP endpoint too (served ahead of Express): 401 with WWW-Authenticate', async () => {
    for (const method of ['post', 'get', 'delete'] as const) {
      const res = await request(app.getHttpServer())[method](
        '/functions/v1/mcp-connections/00000000-0000-4000-8000-000000000000/mcp',
      );
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
  });

  it('serves exactly the public routes without a key', async () => {
    const publicRoutes = routes.filter((r) =>
      PUBLIC_PATHS.some((p) => r.path === p || r.path.startsWith(`${p}/`)),
    );
    expect(publicRoutes.map((r) => `${r.method} ${r.path}`).sort()).toEqual(
      expect.arrayContaining(['GET /health']),
    );
    for (const path of ['/docs', '/docs-json'])
      expect((await request(app.getHttpServer()).get(path)).status).toBe(200);
  });
});
