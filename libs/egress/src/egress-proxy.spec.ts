import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  type EgressEvent,
  EgressGuard,
  type EgressListener,
  parseAllowPrivate,
  parseEgressPattern,
  SANDBOX_SHIM_SOURCE,
  startEgressListener,
} from './index';

const run = promisify(execFile);

// A client as a sandboxed server would be: Node with the shim preloaded, talking to names.
const CLIENT = `
const http = require('node:http');
const net = require('node:net');
const [url, raw, apiPort] = JSON.parse(process.argv[1]);
const out = {};
const get = (u) => new Promise((resolve) => {
  http.get(u, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => resolve(res.statusCode + ' ' + b)); })
    .on('error', (e) => resolve('error ' + e.code));
});
const tcp = (host, port) => new Promise((resolve) => {
  const s = net.connect(port, host, () => s.write('ping\\n'));
  s.on('data', (d) => { resolve('data ' + d.toString().trim()); s.destroy(); });
  s.on('error', (e) => resolve('error ' + e.code));
  s.on('close', () => resolve('closed'));
});
(async () => {
  out.http = await get(url);
  out.fetch = await fetch(url).then((r) => r.text(), (e) => 'error ' + (e.cause ? e.cause.code || e.cause.message : e.message));
  out.tcp = await tcp(raw.host, raw.port);
  out.denied = await get('http://denied.test:' + apiPort + '/');
  out.rebind = await get('http://rebind.test:' + apiPort + '/');
  console.log(JSON.stringify(out));
})();
`;

describe('egress proxy and sandbox shim', () => {
  let dir: string;
  let api: http.Server;
  let apiPort: number;
  let raw: net.Server;
  let rawPort: number;
  let requests = 0;
  let listener: EgressListener;
  const events: EgressEvent[] = [];

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'egress-spec-'));
    fs.writeFileSync(path.join(dir, 'shim.cjs'), SANDBOX_SHIM_SOURCE);
    api = http.createServer((req, res) => {
      requests++;
      res.end(`hello ${req.headers.host}`);
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    apiPort = (api.address() as AddressInfo).port;
    // A plain TCP service (as a database would be): answers the first line.
    raw = net.createServer((socket) => socket.once('data', () => socket.end('pong\n')));
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    rawPort = (raw.address() as AddressInfo).port;
    const names: Record<string, string[]> = {
      'api.test': ['127.0.0.1'],
      'rebind.test': ['127.0.0.1'],
      'denied.test': ['127.0.0.1'],
      'db.test': ['127.0.0.1'],
    };
    const guard = new EgressGuard({
      openings: parseAllowPrivate(`api.test:${apiPort},db.test:${rawPort}`),
      includeHostAddresses: false,
      lookup: async (host) => names[host] ?? [],
    });
    listener = await startEgressListener({
      socketPath: path.join(dir, 'egress.sock'),
      policy: {
        patterns: [parseEgressPattern('api.example.com:443')],
        targets: [
          { host: 'api.test', port: apiPort },
          { host: 'rebind.test', port: apiPort },
          { host: 'db.test', port: rawPort },
        ],
      },
      guard,
      onEvent: (event) => events.push(event),
    });
  });

  afterAll(async () => {
    await listener?.close();
    await new Promise((r) => api?.close(r));
    await new Promise((r) => raw?.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('carries HTTP, fetch and plain TCP to an allowed target and refuses the rest', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--require',
        path.join(dir, 'shim.cjs'),
        '-e',
        CLIENT,
        JSON.stringify([
          `http://api.test:${apiPort}/x`,
          { host: 'db.test', port: rawPort },
          apiPort,
        ]),
      ],
      { env: { PATH: process.env.PATH, ATHENIC_EGRESS_SOCKET: listener.socketPath } },
    );
    const out = JSON.parse(stdout);
    expect(out.http).toBe(`200 hello api.test:${apiPort}`);
    expect(out.fetch).toBe(`hello api.test:${apiPort}`);
    expect(out.tcp).toBe('data pong');
    expect(out.denied).toMatch(/^error /);
    expect(out.rebind).toMatch(/^error /);
    // The two refused requests never reached the listener.
    expect(requests).toBe(2);
    expect(events.filter((e) => e.allowed).every((e) => e.address === '127.0.0.1')).toBe(true);
    expect(events).toContainEqual(
      expect.objectContaining({
        host: 'denied.test',
        allowed: false,
        reason: expect.stringContaining('neither a host this server type declares'),
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        host: 'rebind.test',
        allowed: false,
        reason: expect.stringContaining('127.0.0.1 is a loopback address'),
      }),
    );
    expect(listener.open()).toBe(0);
  });

  it('answers a malformed request with 400 and a CONNECT it may not serve with 403', async () => {
    const ask = (text: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(listener.socketPath);
        let got = '';
        socket.on('connect', () => socket.write(text));
        socket.on('data', (d: Buffer) => (got += d.toString()));
        socket.on('close', () => resolve(got.split('\r\n')[0]));
      });
    expect(await ask('GET / HTTP/1.1\r\n\r\n')).toBe('HTTP/1.1 400 Bad Request');
    expect(await ask('CONNECT 127.0.0.1:5432 HTTP/1.1\r\n\r\n')).toBe('HTTP/1.1 403 Forbidden');
    expect(await ask(`CONNECT ${'a'.repeat(300)}:1 HTTP/1.1\r\n\r\n`)).toBe(
      'HTTP/1.1 403 Forbidden',
    );
  });
});
