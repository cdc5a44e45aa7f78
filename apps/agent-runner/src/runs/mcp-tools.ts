import type { McpServerConfig } from '@athenic/agent-config';
import type { ConnectionView } from '@athenic/contracts';
import type { SecretMasker } from '@athenic/platform-crypto';
import { type Tool, createTool } from '@inngest/agent-kit';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** What one tool call did, secrets masked, for the run's record. */
export interface RecordedCall {
  connectionId: string;
  tool: string;
  arguments: unknown;
  result: unknown;
  isError: boolean;
  durationMs: number;
}

export interface ToolOptions {
  timeoutMs: number;
  maxResultBytes: number;
  maskerFor: (connectionId: string) => SecretMasker;
  record: (call: RecordedCall) => Promise<void>;
}

export interface RunTools {
  tools: Tool.Any[];
  close(): Promise<void>;
}

const MODEL_TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `<server name>-<tool>`, as model APIs accept it (64 characters of [A-Za-z0-9_-]); a longer or
 * unusual name is cut and suffixed with a hash of the full name, so it stays unique and stable.
 */
export function modelToolName(serverName: string, tool: string): string {
  const full = `${serverName}-${tool}`;
  if (MODEL_TOOL_NAME.test(full)) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 55)}-${hash}`;
}

/**
 * One MCP client per connection (from `buildMcpServersConfig`'s output), each tool of each server
 * as an AgentKit tool. A connection whose tools cannot be listed fails the whole run with the
 * reason: a run never goes on silently without tools it was given.
 */
export async function connectRunTools(
  servers: McpServerConfig[],
  connections: ConnectionView[],
  options: ToolOptions,
): Promise<RunTools> {
  const clients: Client[] = [];
  const close = async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  };
  try {
    const tools: Tool.Any[] = [];
    for (const [i, server] of servers.entries()) {
      const connection = connections[i];
      const client = new Client({ name: 'athenic-agent-runner', version: '1.0.0' });
      clients.push(client);
      let listed: Awaited<ReturnType<Client['listTools']>>;
      try {
        await client.connect(
          new StreamableHTTPClientTransport(new URL(server.transport.url), {
            requestInit: server.transport.requestInit,
          }),
        );
        listed = await client.listTools(undefined, { timeout: options.timeoutMs });
      } catch (error) {
        throw new Error(
          `Connection ${connection.id} ("${connection.title}"): its tools could not be listed: ${message(error)}`,
        );
      }
      for (const tool of listed.tools)
        tools.push(asAgentTool(server.name, connection.id, client, tool, options));
    }
    return { tools, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function asAgentTool(
  serverName: string,
  connectionId: string,
  client: Client,
  tool: { name: string; description?: string; inputSchema: Record<string, unknown> },
  options: ToolOptions,
): Tool.Any {
  let parameters: z.ZodType;
  try {
    parameters = z.fromJSONSchema(tool.inputSchema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch {
    parameters = z.record(z.string(), z.unknown());
  }
  return createTool({
    name: modelToolName(serverName, tool.name),
    description: tool.description ?? `${tool.name} of ${serverName}`,
    parameters: parameters as never,
    handler: async (input: unknown) => {
      const started = performance.now();
      const masker = options.maskerFor(connectionId);
      let isError = false;
      let content: unknown;
      try {
        const result = await client.callTool(
          { name: tool.name, arguments: (input ?? {}) as Record<string, unknown> },
          undefined,
          {
            timeout: options.timeoutMs,
          },
        );
        isError = result.isError === true;
        content = result.structuredContent ?? result.content;
      } catch (error) {
        isError = true;
        content = [{ type: 'text', text: `The tool call failed: ${message(error)}` }];
      }
      const capped = cap(content, options.maxResultBytes);
      await options.record({
        connectionId,
        tool: tool.name,
        arguments: maskJson(input ?? {}, masker),
        result: maskJson(capped, masker),
        isError,
        durationMs: Math.round(performance.now() - started),
      });
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

/** Every string inside a value, masked (keys included). */
function maskJson(value: unknown, masker: SecretMasker): unknown {
  if (typeof value === 'string') return masker.mask(value);
  if (Array.isArray(value)) return value.map((v) => maskJson(v, masker));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [masker.mask(k), maskJson(v, masker)]),
    );
  }
  return value ?? null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
