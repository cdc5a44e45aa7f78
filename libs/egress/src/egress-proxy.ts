import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import { type EgressPattern, patternAllows } from './declared-egress';
import type { EgressGuard } from './egress-guard';

/** What one sandbox may reach: its type's declared egress and its user-given targets. */
export interface EgressPolicy {
  patterns: readonly EgressPattern[];
  targets: readonly { host: string; port: number }[];
}

/** One decision of the proxy, for the connection's log. */
export interface EgressEvent {
  host: string;
  port: number;
  allowed: boolean;
  /** The address connected to, when allowed. */
  address?: string;
  /** Why not, when refused or failed. */
  reason?: string;
}

export interface EgressListenerOptions {
  socketPath: string;
  policy: EgressPolicy;
  guard: EgressGuard;
  onEvent: (event: EgressEvent) => void;
  /** Tunnels open at once (default 256); more are refused. */
  maxTunnels?: number;
  /** Time to read a request and to connect upstream (default 10 s). */
  timeoutMs?: number;
  /** The socket file's owner (the sandbox's uid), when the platform runs as root. */
  owner?: number;
}

export interface EgressListener {
  readonly socketPath: string;
  /** Tunnels open now. */
  open(): number;
  close(): Promise<void>;
}

const MAX_REQUEST = 4096;

/** Whether the policy lets a server ask for `host:port` at all (before any address check). */
export function policyAllows(policy: EgressPolicy, host: string, port: number): boolean {
  const asked = host.toLowerCase();
  return (
    policy.targets.some((t) => t.host.toLowerCase() === asked && t.port === port) ||
    policy.patterns.some((p) => patternAllows(p, asked, port))
  );
}

/** Reads `CONNECT host:port HTTP/1.x`: the host (IPv6 without brackets) and port, or null. */
function parseConnect(head: string): { host: string; port: number } | null {
  const line = /^CONNECT (\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5}) HTTP\/1\.[01]\r\n/.exec(head);
  if (!line) return null;
  const port = Number(line[2]);
  if (port < 1 || port > 65535) return null;
  return { host: line[1].replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * The egress path of one sandbox: an HTTP CONNECT proxy on a Unix socket that is bound into
 * the sandbox (and reachable from nowhere else). Each request is checked against the sandbox's
 * policy, then its name resolved and every address checked by the guard; the tunnel goes to
 * an address the guard allowed, never to the name again.
 */
export async function startEgressListener(options: EgressListenerOptions): Promise<EgressListener> {
  const maxTunnels = options.maxTunnels ?? 256;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const sockets = new Set<net.Socket>();
  let tunnels = 0;

  const refuse = (client: net.Socket, status: string, event: EgressEvent) => {
    options.onEvent(event);
    client.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  };

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    client.setTimeout(timeoutMs, () => client.destroy());
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_REQUEST) client.destroy();
        return;
      }
      client.removeListener('data', onData);
      client.pause();
      const early = Buffer.from(head.slice(end + 4), 'latin1');
      const asked = parseConnect(head.slice(0, end + 2));
      if (!asked) {
        client.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      void tunnel(client, asked, early);
    };
    client.on('data', onData);
  });

  const tunnel = async (
    client: net.Socket,
    asked: { host: string; port: number },
    early: Buffer,
  ): Promise<void> => {
    const { host, port } = asked;
    if (!policyAllows(options.policy, host, port)) {
      refuse(client, '403 Forbidden', {
        host,
        port,
        allowed: false,
        reason: `${host}:${port} is neither a host this server type declares nor a target of this connection`,
      });
      return;
    }
    if (tunnels >= maxTunnels) {
      refuse(client, '429 Too Many Requests', {
        host,
        port,
        allowed: false,
        reason: `more than ${maxTunnels} connections open at once`,
      });
      return;
    }
    const decision = await options.guard.decide(host, port);
    if (!decision.allowed) {
      refuse(client, '403 Forbidden', { host, port, allowed: false, reason: decision.reason });
      return;
    }
    if (client.destroyed) return;
    tunnels++;
    let released = false;
    const release = () => {
      if (!released) tunnels--;
      released = true;
    };
    const upstream = await connectFirst(decision.addresses, port, timeoutMs);
    if ('error' in upstream) {
      release();
      refuse(client, '502 Bad Gateway', { host, port, allowed: false, reason: upstream.error });
      return;
    }
    const socket = upstream.socket;
    options.onEvent({ host, port, allowed: true, address: socket.remoteAddress });
    sockets.add(socket);
    client.setTimeout(0);
    socket.setNoDelay(true);
    client.setNoDelay(true);
    const close = () => {
      release();
      sockets.delete(socket);
      socket.destroy();
      client.destroy();
    };
    socket.on('error', close);
    socket.on('close', close);
    client.on('close', close);
    if (client.destroyed) return close();
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (early.length > 0) socket.write(early);
    client.pipe(socket);
    socket.pipe(client);
    client.resume();
  };

  await fs.rm(options.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => resolve());
  });
  server.on('error', () => undefined);
  await fs.chmod(options.socketPath, 0o600);
  if (options.owner !== undefined) await fs.chown(options.socketPath, options.owner, options.owner);

  return {
    socketPath: options.socketPath,
    open: () => tunnels,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
      await fs.rm(options.socketPath, { force: true });
    },
  };
}

/** Connects to the first of the addresses that answers within the time allowed. */
async function connectFirst(
  addresses: string[],
  port: number,
  timeoutMs: number,
): Promise<{ socket: net.Socket } | { error: string }> {
  let last = 'no address';
  for (const address of addresses) {
    const result = await new Promise<{ socket: net.Socket } | { error: string }>((resolve) => {
      const socket = net.connect({ host: address, port });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ error: `${address}:${port} did not answer within ${timeoutMs / 1000} s` });
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve({ socket });
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve({ error: `${address}:${port}: ${error.code ?? error.message}` });
      });
    });
    if ('socket' in result) return result;
    last = result.error;
  }
  return { error: last };
}
