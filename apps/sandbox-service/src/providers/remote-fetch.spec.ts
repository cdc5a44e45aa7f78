import { EgressGuard, parseAllowPrivate } from '@athenic/egress';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RemoteEgressError, RemoteFetch } from './remote-fetch';

describe('RemoteFetch: the egress rule on a remote connection', () => {
  let server: Server;
  let port: number;
  const seen: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.headers.host} ${req.url}`);
      if (req.url === '/redirect') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const guard = (allow: string, names: Record<string, string[]> = {}) =>
    new EgressGuard({
      openings: parseAllowPrivate(allow),
      lookup: (host) =>
        names[host] ? Promise.resolve(names[host]) : Promise.reject(new Error('ENOTFOUND')),
    });

  it('refuses a loopback address EGRESS_ALLOW_PRIVATE does not open, before any byte is sent', async () => {
    const fetch = new RemoteFetch(guard(''), new URL(`http://127.0.0.1:${port}/mcp`));
    const before = seen.length;
    await expect(fetch.fetch(`http://127.0.0.1:${port}/mcp`)).rejects.toThrow(
      new RemoteEgressError(
        `Egress refused: 127.0.0.1:${port}: 127.0.0.1:${port} is an address of the platform's own host (only an EGRESS_ALLOW_PRIVATE entry naming this port opens it)`,
      ),
    );
    expect(seen.length).toBe(before);
    await fetch.close();
  });

  it('reaches an opened address', async () => {
    const fetch = new RemoteFetch(guard(`127.0.0.1:${port}`), new URL(`http://127.0.0.1:${port}/`));
    const res = await fetch.fetch(`http://127.0.0.1:${port}/mcp`);
    expect(await res.text()).toBe('hello');
    await fetch.close();
  });

  it('resolves a name itself and connects to the address it checked (the system resolver does not know this name)', async () => {
    const fetch = new RemoteFetch(
      guard(`onprem.test:${port}`, { 'onprem.test': ['127.0.0.1'] }),
      new URL(`http://onprem.test:${port}/`),
    );
    const res = await fetch.fetch(`http://onprem.test:${port}/mcp`);
    expect(await res.text()).toBe('hello');
    expect(seen.at(-1)).toBe(`onprem.test:${port} /mcp`);
    await fetch.close();
  });

  it('refuses a name that resolves to a private address nobody opened', async () => {
    const fetch = new RemoteFetch(
      guard('', { 'rebind.test': ['10.1.2.3'] }),
      new URL(`http://rebind.test:${port}/`),
    );
    await expect(fetch.fetch(`http://rebind.test:${port}/mcp`)).rejects.toThrow(
      /Egress refused: rebind\.test:\d+: rebind\.test resolves to 10\.1\.2\.3 is a private address/,
    );
    await fetch.close();
  });

  it('follows no redirect itself, and refuses any other origin', async () => {
    const fetch = new RemoteFetch(guard(`127.0.0.1:${port}`), new URL(`http://127.0.0.1:${port}/`));
    const res = await fetch.fetch(`http://127.0.0.1:${port}/redirect`);
    expect(res.status).toBe(302);
    await expect(fetch.fetch('http://169.254.169.254/latest/meta-data/')).rejects.toThrow(
      /another origin \(169\.254\.169\.254\); only 127\.0\.0\.1:\d+ is reached/,
    );
    await fetch.close();
  });
});
