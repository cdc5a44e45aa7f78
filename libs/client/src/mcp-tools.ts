import { type Tool, createTool } from '@inngest/agent-kit';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import { messageOf } from './api';
import type { McpServerConfig, McpServersConfig } from './mcp-servers-config';
import { modelToolName, toolAllowList } from './tool-names';

/** One tool call as it starts: which server, which tool, with what arguments. */
export interface ToolCallStart {
  server: string;
  /** The MCP tool name as the server lists it. */
  tool: string;
  /** The name the model called it by (`<server name>-<tool>`). */
  modelName: string;
  arguments: unknown;
}

/** How a tool call ended: its result (content, cut to the size cap), and whether it failed. */
export interface ToolCallOutcome {
  result: unknown;
  isError: boolean;
  durationMs: number;
}

/** Called as a tool call starts; what it returns is called as the call ends. */
export type ToolCallTracker = (
  call: ToolCallStart,
) => Promise<((outcome: ToolCallOutcome) => Promise<void> | void) | void>;

export interface McpToolsOptions {
  /** How long one tool call (and listing a server's tools) may take, in ms (default 60000). */
  timeoutMs?: number;
  /** A result larger than this (as JSON, in bytes) is cut with a note (default 100000). */
  maxResultBytes?: number;
  /** Only tools whose MCP or model name matches one of these names or globs (see toolAllowList). */
  allow?: string[];
  /** The MCP client name the servers see (default `athenic-client`). */
  clientName?: string;
  /** Told of every call as it starts and ends (to record or stream it). */
  track?: ToolCallTracker;
}

/** The MCP servers' tools as AgentKit tools, with the clients behind them to close at the end. */
export interface McpToolset {
  tools: Tool.Any[];
  /** Every tool's model name, in order. */
  names: string[];
  close(): Promise<void>;
}

/** A server whose tools could not be listed: `server` is its name, `index` its place in the list. */
export class McpServerUnavailableError extends Error {
  override readonly name = 'McpServerUnavailableError';

  constructor(
    readonly server: string,
    readonly index: number,
    readonly reason: string,
  ) {
    super(`MCP server ${server}: its tools could not be listed: ${reason}`);
  }
}

/**
 * The tools of the MCP servers `buildMcpServersConfig` returned, as AgentKit tools built with
 * `createTool`, each tool's input JSON Schema handed over as JSON Schema (through zod 4's
 * `z.fromJSONSchema`, which AgentKit turns back into the same JSON Schema for the model). This is
 * the way round AgentKit 0.13.2's own `mcpServers` path, which fails on the first inference
 * (inngest/agent-kit#312; see this package's README). One MCP client per server: close them with
 * `close()` when the run ends. A server whose tools cannot be listed fails the whole call (every
 * client closed): an agent never goes on silently without tools it was given.
 */
export async function mcpTools(
  config: McpServersConfig | McpServerConfig[],
  options: McpToolsOptions = {},
): Promise<McpToolset> {
  const servers = Array.isArray(config) ? config : config.mcp_servers;
  const timeout = options.timeoutMs ?? 60000;
  const allowed = toolAllowList(options.allow);
  const clients: Client[] = [];
  const close = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  };
  try {
    const tools: Tool.Any[] = [];
    for (const [index, server] of servers.entries()) {
      const client = new Client({ name: options.clientName ?? 'athenic-client', version: '1.0.0' });
      clients.push(client);
      let listed: Awaited<ReturnType<Client['listTools']>>;
      try {
        await client.connect(
          new StreamableHTTPClientTransport(new URL(server.transport.url), {
            requestInit: server.transport.requestInit,
          }),
          { timeout },
        );
        listed = await client.listTools(undefined, { timeout });
      } catch (error) {
        throw new McpServerUnavailableError(server.name, index, messageOf(error));
      }
      for (const tool of listed.tools) {
        const name = modelToolName(server.name, tool.name);
        if (allowed(tool.name, name))
          tools.push(
            asAgentTool(server.name, name, client, tool, { ...options, timeoutMs: timeout }),
          );
      }
    }
    return { tools, names: tools.map((t) => t.name), close };
  } catch (error) {
    await close();
    throw error;
  }
}

function asAgentTool(
  server: string,
  modelName: string,
  client: Client,
  tool: { name: string; description?: string; inputSchema: Record<string, unknown> },
  options: McpToolsOptions & { timeoutMs: number },
): Tool.Any {
  let parameters: z.ZodType;
  try {
    parameters = z.fromJSONSchema(tool.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    parameters = z.record(z.string(), z.unknown());
  }
  const maxResultBytes = options.maxResultBytes ?? 100000;
  return createTool({
    name: modelName,
    description: tool.description ?? `${tool.name} of ${server}`,
    parameters: parameters as never,
    handler: async (input: unknown) => {
      const args = (input ?? {}) as Record<string, unknown>;
      const end = await options.track?.({ server, tool: tool.name, modelName, arguments: args });
      const started = performance.now();
      let isError = false;
      let content: unknown;
      try {
        const result = await client.callTool({ name: tool.name, arguments: args }, undefined, {
          timeout: options.timeoutMs,
        });
        isError = result.isError === true;
        content = result.structuredContent ?? result.content;
      } catch (error) {
        // A timeout, a dropped session, a refused request: the model is told and goes on.
        isError = true;
        content = [{ type: 'text', text: `The tool call failed: ${messageOf(error)}` }];
      }
      const capped = cap(content, maxResultBytes);
      await end?.({ result: capped, isError, durationMs: Math.round(performance.now() - started) });
      const text = typeof capped === 'string' ? capped : textOf(capped);
      return isError ? `Error: ${text}` : text;
    },
  });
}

/** The result as given, or a note with its start when it exceeds the cap. */
function cap(content: unknown, maxBytes: number): unknown {
  const json = JSON.stringify(content ?? null);
  if (Buffer.byteLength(json) <= maxBytes) return content;
  return `${json.slice(0, maxBytes)}… [result cut at ${maxBytes} bytes]`;
}

function textOf(content: unknown): string {
  if (Array.isArray(content)) {
    return content
      .map((c) =>
        c && typeof c === 'object' && 'text' in c
          ? String((c as { text: unknown }).text)
          : JSON.stringify(c),
      )
      .join('\n');
  }
  return JSON.stringify(content);
}
