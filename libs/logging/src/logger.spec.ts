import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pinoHttp } from 'pino-http';
import { loggerParams } from './logger';

/** The access log line: the request's id, method and path, its status, and nothing secret. */
describe('loggerParams access log', () => {
  let server: Server;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
          lines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    const params = loggerParams({ service: 'test', level: 'info' }).pinoHttp as object;
    const middleware = pinoHttp({ ...params, stream: sink });
    server = createServer((req, res) => {
      (req as typeof req & { id: string }).id = 'corr-1';
      middleware(req, res, () => {
        res.statusCode = req.url?.startsWith('/missing') ? 404 : 200;
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  async function get(path: string): Promise<Record<string, unknown>> {
    const before = lines.length;
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      headers: { authorization: 'Bearer ak_secret', cookie: 'session=secret' },
    });
    await res.arrayBuffer();
    for (let i = 0; i < 50 && lines.length === before; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(lines.length).toBe(before + 1);
    return lines[lines.length - 1];
  }

  it('writes one line per request with the id, method, path without query and status', async () => {
    const line = await get('/functions/v1/mcp-connections?account_id=acct');
    expect(line).toMatchObject({
      service: 'test',
      level: 30,
      req: { id: 'corr-1', method: 'GET', url: '/functions/v1/mcp-connections' },
      res: { status: 200 },
    });
    expect(Object.keys(line.req as object).sort()).toEqual(['id', 'method', 'url']);
    expect(JSON.stringify(line)).not.toContain('secret');
  });

  it('logs a 4xx as a warning', async () => {
    const line = await get('/missing');
    expect(line).toMatchObject({ level: 40, res: { status: 404 } });
  });
});
