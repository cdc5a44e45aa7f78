import { echo } from '../http/ids';

/** What the access log says about an MCP message: its JSON-RPC method and tool, nothing else. */
export interface McpMessageSummary {
  /** `tools/call`, `initialize`, ...; `batch` for several messages; `-` when it is not JSON-RPC. */
  rpcMethod: string;
  /** The tool called, for `tools/call` (several joined by commas in a batch). */
  tool?: string;
  /** The body holds a request, which the server answers (not only notifications or answers). */
  request?: true;
}

const NOT_RPC: McpMessageSummary = { rpcMethod: '-' };

/** Reads the method and tool name of a POSTed body; arguments and results are never kept. */
export function summarizeMcpBody(body: Buffer): McpMessageSummary {
  if (body.length === 0) return NOT_RPC;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return NOT_RPC;
  }
  if (Array.isArray(parsed)) {
    const tools = parsed.map(toolOf).filter((t): t is string => !!t);
    return {
      rpcMethod: `batch(${parsed.length})`,
      ...(tools.length ? { tool: tools.join(',') } : {}),
      ...(parsed.some(isRequest) ? { request: true } : {}),
    };
  }
  const method = methodOf(parsed);
  if (!method) return isResponse(parsed) ? { rpcMethod: 'response' } : NOT_RPC;
  const tool = toolOf(parsed);
  return {
    rpcMethod: method,
    ...(tool ? { tool } : {}),
    ...(isRequest(parsed) ? { request: true } : {}),
  };
}

/** A JSON-RPC request: a method and an id (a notification has no id). */
function isRequest(message: unknown): boolean {
  const id = (message as { id?: unknown } | null)?.id;
  return methodOf(message) !== undefined && (typeof id === 'string' || typeof id === 'number');
}

function methodOf(message: unknown): string | undefined {
  const method = (message as { method?: unknown } | null)?.method;
  return typeof method === 'string' ? echo(method, 100) : undefined;
}

function toolOf(message: unknown): string | undefined {
  if (methodOf(message) !== 'tools/call') return undefined;
  const name = (message as { params?: { name?: unknown } }).params?.name;
  return typeof name === 'string' ? echo(name, 100) : undefined;
}

function isResponse(message: unknown): boolean {
  return !!message && typeof message === 'object' && ('result' in message || 'error' in message);
}
