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
  /** Implementation-defined (the same code): the client session a server's request went to ended first. */
  sessionEnded: -32000,
  /** As the MCP SDK's RequestTimeout: nobody answered a request in time. */
  requestTimeout: -32001,
  /** Implementation-defined: the server's message was longer than the bridge's line limit and was dropped. */
  messageTooLarge: -32010,
  /** Implementation-defined: a limit of the bridge was reached (sessions, event streams). */
  limitExceeded: -32011,
  /** Implementation-defined: the client cancelled the request; whatever the server says later is dropped. */
  requestCancelled: -32012,
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

/** What the two ends of a message too long to keep tell about it: its top-level id and method. */
export interface Envelope {
  id?: JsonRpcId;
  method?: string;
}

/**
 * The top-level `id` and `method` of a JSON-RPC message seen only by its first and last bytes (a
 * line over the bridge's limit, dropped as it streamed). The head is read forwards from the
 * message's opening brace, the tail backwards from its closing one, each for as long as it holds
 * whole members; a member that runs off the kept bytes ends the search on that side. The MCP SDK
 * writes `jsonrpc` and `id` last in a response and `method` first in a request, so one of the two
 * ends usually has them.
 */
export function peekEnvelope(head: string, tail: string): Envelope {
  const front = membersFromStart(head);
  const back = membersFromEnd(tail);
  const id = front.get('id') ?? back.get('id');
  const method = front.get('method') ?? back.get('method');
  return {
    ...(typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? { id } : {}),
    ...(typeof method === 'string' ? { method } : {}),
  };
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const PRIMITIVE = /[\w.+-]/;

function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Top-level members of an object read from its start: name to value (ids and methods only). */
function membersFromStart(text: string): Map<string, unknown> {
  const members = new Map<string, unknown>();
  let i = skipSpace(text, 0);
  if (text[i] !== '{') return members;
  i = skipSpace(text, i + 1);
  while (text[i] === '"') {
    const nameEnd = stringEnd(text, i);
    if (nameEnd < 0) break;
    const name = parsed(text.slice(i, nameEnd + 1));
    i = skipSpace(text, nameEnd + 1);
    if (text[i] !== ':') break;
    const valueStart = skipSpace(text, i + 1);
    const valueEnd = valueEndFrom(text, valueStart);
    if (valueEnd < 0) break;
    remember(members, name, text.slice(valueStart, valueEnd));
    i = skipSpace(text, valueEnd);
    if (text[i] !== ',') break;
    i = skipSpace(text, i + 1);
  }
  return members;
}

/** Top-level members of an object read backwards from its end. */
function membersFromEnd(text: string): Map<string, unknown> {
  const members = new Map<string, unknown>();
  let i = skipSpaceBack(text, text.length - 1);
  if (text[i] !== '}') return members;
  i = skipSpaceBack(text, i - 1);
  while (i >= 0) {
    const valueStart = valueStartFrom(text, i);
    if (valueStart < 0) break;
    const value = text.slice(valueStart, i + 1);
    i = skipSpaceBack(text, valueStart - 1);
    if (text[i] !== ':') break;
    i = skipSpaceBack(text, i - 1);
    if (text[i] !== '"') break;
    const nameStart = stringStart(text, i);
    if (nameStart < 0) break;
    remember(members, parsed(text.slice(nameStart, i + 1)), value);
    i = skipSpaceBack(text, nameStart - 1);
    if (text[i] !== ',') break;
    i = skipSpaceBack(text, i - 1);
  }
  return members;
}

function remember(members: Map<string, unknown>, name: unknown, raw: string): void {
  if ((name === 'id' || name === 'method') && !members.has(name)) members.set(name, parsed(raw));
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && WHITESPACE.has(text[i])) i++;
  return i;
}

function skipSpaceBack(text: string, i: number): number {
  while (i >= 0 && WHITESPACE.has(text[i])) i--;
  return i;
}

/** Whether the character at `i` follows an odd run of backslashes (undefined: the run reaches `floor`). */
function escapedAt(text: string, i: number, floor: number): boolean | undefined {
  let k = i - 1;
  while (k >= floor && text[k] === '\\') k--;
  if (k < floor) return undefined;
  return (i - 1 - k) % 2 === 1;
}

/** The index of the quote closing the string opened at `open`, or -1 when it is not in `text`. */
function stringEnd(text: string, open: number): number {
  let from = open + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    // Inside a string, a backslash run starting right after the opening quote is known in full.
    if (!escapedAt(text, quote, open)) return quote;
    from = quote + 1;
  }
}

/**
 * The index of the quote opening the string closed at `close`: in JSON every quote inside a
 * string is escaped, so it is the nearest quote before that follows an even backslash run. -1
 * when it is not in `text`, or when a backslash run reaches the start of `text` (its parity
 * unknown).
 */
function stringStart(text: string, close: number): number {
  let from = close - 1;
  while (from >= 0) {
    const quote = text.lastIndexOf('"', from);
    if (quote < 0) return -1;
    const escaped = escapedAt(text, quote, 0);
    if (escaped === undefined) return -1;
    if (!escaped) return quote;
    from = quote - 1;
  }
  return -1;
}

/** The index just past the value starting at `i`, or -1 when it does not end within `text`. */
function valueEndFrom(text: string, i: number): number {
  const first = text[i];
  if (first === '"') {
    const end = stringEnd(text, i);
    return end < 0 ? -1 : end + 1;
  }
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const c = text[j];
      if (c === '"') {
        j = stringEnd(text, j);
        if (j < 0) return -1;
      } else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        if (--depth === 0) return j + 1;
      }
    }
    return -1;
  }
  let j = i;
  while (j < text.length && PRIMITIVE.test(text[j])) j++;
  // A number running to the end of the kept bytes may go on past them.
  return j === i || j === text.length ? -1 : j;
}

/** The index where the value ending at `i` starts, or -1 when it does not start within `text`. */
function valueStartFrom(text: string, i: number): number {
  const last = text[i];
  if (last === '"') return stringStart(text, i);
  if (last === '}' || last === ']') {
    let depth = 0;
    for (let j = i; j >= 0; j--) {
      const c = text[j];
      if (c === '"') {
        j = stringStart(text, j);
        if (j < 0) return -1;
      } else if (c === '}' || c === ']') depth++;
      else if (c === '{' || c === '[') {
        if (--depth === 0) return j;
      }
    }
    return -1;
  }
  let j = i;
  while (j >= 0 && PRIMITIVE.test(text[j])) j--;
  // A value reaching the start of the kept bytes may have begun before them.
  return j === i || j < 0 ? -1 : j + 1;
}
