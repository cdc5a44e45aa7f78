import type { HealthCheck } from '@athenic/messaging';
import type { LoggerService } from '@nestjs/common';
import { createServer, type Server } from 'node:http';

/**
 * The probe endpoint of one bus-service process (PROBE_PORT), for an orchestrator:
 * `GET /livez` answers 200 while the process's event loop does; `GET /readyz` runs the
 * service's own health checks (database, broker, ...) in this process and answers 200 when all
 * pass, 503 with the failing ones otherwise. Nothing else is served; no secret is in any answer.
 */
export async function serveProbes(
  port: number,
  checks: HealthCheck[],
  service: string,
  logger: LoggerService,
): Promise<Server> {
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'method_not_allowed' });
    if (req.url === '/livez') return send(200, { service, status: 'ok' });
    if (req.url !== '/readyz') return send(404, { error: 'not_found' });
    void Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          return { name, ...(await check()) };
        } catch (error) {
          return {
            name,
            status: 'error',
            error: error instanceof Error ? error.message : String(error),
          };
        }
      }),
    ).then((results) => {
      const ok = results.every((r) => r.status === 'ok');
      send(ok ? 200 : 503, { service, status: ok ? 'ok' : 'error', checks: results });
    });
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => resolve());
  });
  server.unref();
  logger.log(`Probes on :${port} (/livez, /readyz)`, 'Bootstrap');
  return server;
}
