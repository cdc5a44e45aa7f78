import { AthenicApiError, getJson, type PlatformOptions } from './api';

/** AgentKit's `MCP.Server` for a server reached over MCP Streamable HTTP. */
export interface McpServerConfig {
  /** `<registry id>-<8 hex of the connection id>`, for example `memory-server-3f2a9c1d`. */
  name: string;
  transport: {
    type: 'streamable-http';
    url: string;
    requestInit: { headers: Record<string, string> };
  };
}

/** What `GET /functions/v1/mcp-connections/agent-config` answers. */
export interface McpServersConfig {
  mcp_servers: McpServerConfig[];
  /** When the run token in the servers' headers stops opening them (ISO 8601). */
  expires_at: string;
}

export interface BuildOptions extends PlatformOptions {
  /** Only these connections (each must be the account's and running); default all running ones. */
  connectionIds?: string[];
  /** Lifetime of the run token in seconds (30 to 86400; the platform's default is 900). */
  ttlS?: number;
}

/**
 * The guide's `buildMcpServersConfig(accountId)`: the account's running MCP connections as
 * AgentKit MCP servers, each pointing at the platform's MCP endpoint with a short-lived run token
 * that opens only those connections. With an account key, `accountId` must be that key's account.
 */
export async function buildMcpServersConfig(
  accountId: string,
  options: BuildOptions,
): Promise<McpServersConfig> {
  if (typeof accountId !== 'string' || accountId.length === 0)
    throw new AthenicApiError(0, 'validation_failed', 'accountId must be a non-empty string.');
  const config = await getJson<McpServersConfig>(
    options,
    'functions/v1/mcp-connections/agent-config',
    {
      account_id: accountId,
      connection_ids: options.connectionIds?.join(','),
      ttl_s: options.ttlS === undefined ? undefined : String(options.ttlS),
    },
  );
  if (!Array.isArray(config.mcp_servers))
    throw new AthenicApiError(
      200,
      'invalid_response',
      'The platform answered agent-config without mcp_servers.',
    );
  return config;
}
