import type { McpServerConfig } from '@athenic/client';
import { type ConnectionView, DomainError, SandboxConnectionList } from '@athenic/contracts';
import type { BusClient } from '@athenic/messaging';
import { signRunToken } from '@athenic/platform-crypto';

/** AgentKit's `MCP.Server` for a server reached over MCP Streamable HTTP (one shape, the client package's). */
export type { McpServerConfig };

export interface McpServersConfigOptions {
  /** Only these connections (each must be the account's and running); default all running ones. */
  connectionIds?: string[];
  /** Lifetime of the run token, in seconds (30 to 86400, default 900). */
  ttlSeconds?: number;
}

export interface McpServersConfig {
  mcpServers: McpServerConfig[];
  expiresAt: Date;
  /** The connections behind the servers, in the same order. */
  connections: ConnectionView[];
}

export const DEFAULT_TTL_SECONDS = 900;

/** `memory-server-3f2a9c1d`: the registry id and the first 8 hex digits of the connection id. */
export function serverName(connection: Pick<ConnectionView, 'id' | 'mcp_server_id'>): string {
  return `${connection.mcp_server_id}-${connection.id.replace(/-/g, '').slice(0, 8)}`;
}

/**
 * The guide's `buildMcpServersConfig`: an account's running connections as AgentKit MCP servers,
 * each pointing at the gateway's MCP endpoint with a run token (short-lived, signed with
 * INTERNAL_SECRET, valid only on the MCP endpoints of the connections it names).
 */
export class McpServersConfigBuilder {
  constructor(
    private readonly bus: BusClient,
    private readonly internalSecret: string,
    /** The gateway's public base URL (its MCP endpoints live under it). */
    private readonly gatewayUrl: string,
  ) {}

  async build(accountId: string, options: McpServersConfigOptions = {}): Promise<McpServersConfig> {
    const ttl = options.ttlSeconds ?? DEFAULT_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 30 || ttl > 86400) {
      throw new DomainError('validation_failed', 'ttl_s must be an integer between 30 and 86400.');
    }
    const { data } = await this.bus.send(SandboxConnectionList, { account_id: accountId });
    let connections: ConnectionView[];
    if (options.connectionIds) {
      const byId = new Map(data.map((c) => [c.id, c]));
      connections = [...new Set(options.connectionIds)].map((id) => {
        const connection = byId.get(id);
        if (!connection) throw new DomainError('not_found', `No connection ${id} exists.`);
        if (connection.status !== 'mcpRunning') {
          throw new DomainError(
            'connection_not_running',
            `Connection ${id} ("${connection.title}") is ${connection.status}: ${connection.status_reason}`,
          );
        }
        return connection;
      });
    } else {
      connections = data.filter((c) => c.status === 'mcpRunning');
    }
    const { token, expiresAt } = await signRunToken(
      this.internalSecret,
      { accountId, connectionIds: connections.map((c) => c.id) },
      ttl,
    );
    const base = this.gatewayUrl.replace(/\/+$/, '');
    return {
      connections,
      expiresAt,
      mcpServers: connections.map((connection) => ({
        name: serverName(connection),
        transport: {
          type: 'streamable-http',
          url: `${base}/functions/v1/mcp-connections/${connection.id}/mcp`,
          requestInit: { headers: { Authorization: `Bearer ${token}` } },
        },
      })),
    };
  }

  /** The guide's call: `const mcpServers = await buildMcpServersConfig(accountId)`. */
  buildMcpServersConfig = async (
    accountId: string,
    options?: McpServersConfigOptions,
  ): Promise<McpServerConfig[]> => (await this.build(accountId, options)).mcpServers;
}
