import type { McpBridge } from '@athenic/mcp-bridge';
import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

const ROUTE = /^\/connections\/([0-9a-f-]{36})\/mcp(?:\?.*)?$/;

/**
 * The HTTP server of the local sandboxes' bridges: `/connections/<id>/mcp` reaches that
 * connection's bridge, which checks the connection's own bearer token.
 */
@Injectable()
export class BridgeHost implements OnApplicationShutdown {
  private readonly log = new Logger('BridgeHost');
  private readonly bridges = new Map<string, McpBridge>();
  private server: Server | undefined;
  private baseUrl = '';

  async listen(host: string, port: number, publicUrl?: string): Promise<string> {
    const server = createServer((req, res) => {
      const match = ROUTE.exec(req.url ?? '');
      const bridge = match ? this.bridges.get(match[1]) : undefined;
      if (!bridge) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            jsonrpc: '2.0',
            id: null,
            error: { code: -32000, message: 'No such connection bridge' },
          }),
        );
        return;
      }
      bridge.handle(req, res);
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const actual = (server.address() as AddressInfo).port;
    this.baseUrl = publicUrl
      ? resolvePublicUrl(publicUrl, actual)
      : `http://${host.includes(':') ? `[${host}]` : host}:${actual}`;
    this.log.log(`Bridges listen on ${host}:${actual} (reached at ${this.baseUrl})`);
    return this.baseUrl;
  }

  urlFor(connectionId: string): string {
    return `${this.baseUrl}/connections/${connectionId}/mcp`;
  }

  register(connectionId: string, bridge: McpBridge): void {
    this.bridges.set(connectionId, bridge);
  }

  unregister(connectionId: string, bridge: McpBridge): void {
    if (this.bridges.get(connectionId) === bridge) this.bridges.delete(connectionId);
  }

  async onApplicationShutdown(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }
}

/**
 * BRIDGE_PUBLIC_URL with its placeholders filled: `{ip}` (this host's first non-loopback IPv4
 * address: a container's address on its network), `{hostname}` and `{port}`.
 */
export function resolvePublicUrl(
  template: string,
  port: number,
  interfaces = networkInterfaces(),
  host = hostname(),
): string {
  return template
    .replaceAll('{port}', String(port))
    .replaceAll('{hostname}', host)
    .replaceAll('{ip}', () => {
      const address = Object.values(interfaces)
        .flat()
        .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
      if (!address)
        throw new Error(
          'BRIDGE_PUBLIC_URL uses {ip}, but this host has no IPv4 address other than loopback',
        );
      return address;
    });
}
