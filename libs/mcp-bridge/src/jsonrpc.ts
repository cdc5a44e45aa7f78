/** JSON-RPC 2.0 as MCP uses it. Ids are strings or numbers; null only in errors for bad input. */
export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Record<string, unknown>;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const ERROR = {
  parse: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  internal: -32603,
  /** Implementation-defined: the server behind the bridge is gone. */
  serverGone: -32000,
} as const;

export function isRequest(m: JsonRpcMessage): m is JsonRpcRequest {
  return 'method' in m && 'id' in m && m.id !== undefined && m.id !== null;
}

export function isNotification(m: JsonRpcMessage): m is JsonRpcNotification {
  return 'method' in m && !('id' in m && m.id !== undefined && m.id !== null);
}

export function isResponse(m: JsonRpcMessage): m is JsonRpcResponse {
  return !('method' in m) && 'id' in m;
}

export function errorResponse(
  id: JsonRpcId | null,
  code: number,
  message: string,
): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: { code, message } };
}

/** A structurally valid JSON-RPC 2.0 message, or a reason it is not. */
export function asMessage(value: unknown): JsonRpcMessage | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'a JSON-RPC message must be an object';
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if ('method' in m && typeof m.method !== 'string') return 'method must be a string';
  if ('id' in m && m.id !== null && typeof m.id !== 'string' && typeof m.id !== 'number')
    return 'id must be a string or a number';
  if (
    'params' in m &&
    m.params !== undefined &&
    (typeof m.params !== 'object' || m.params === null)
  )
    return 'params must be an object';
  if (!('method' in m) && !('id' in m)) return 'a message needs a method or an id';
  return m as unknown as JsonRpcMessage;
}
