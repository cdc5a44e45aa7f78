/**
 * Remote MCP servers (`transport: "streamable-http"` or `"sse"`): a URL template whose
 * `{variables}` are filled from the connection's config, and headers whose values may also
 * reference credentials (`Authorization: Bearer {credential:token}`). One home for the rules of
 * such a template: the registry checks an entry with `checkRemoteTemplate`, the sandbox service
 * fills it with `resolveRemoteUrl` / `resolveRemoteHeaders` (docs/lifecycle.md, "Remote servers").
 */

export const REMOTE_TRANSPORTS = ['streamable-http', 'sse'] as const;
export type RemoteTransport = (typeof REMOTE_TRANSPORTS)[number];

export function isRemoteTransport(transport: string): transport is RemoteTransport {
  return (REMOTE_TRANSPORTS as readonly string[]).includes(transport);
}

/** What a remote entry gives: where the server is and what to send it. */
export interface RemoteTemplate {
  url: string;
  headers: Record<string, string>;
}

export const MAX_REMOTE_URL_LENGTH = 2048;
export const MAX_REMOTE_HEADERS = 32;
const MAX_HEADER_VALUE_LENGTH = 8192;
/** `{name}` (a config key) or `{credential:name}`. */
const PLACEHOLDER = /\{([^{}]*)\}/g;
const KEY = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
/** Headers the platform's MCP client sets itself, or that would change what the request is. */
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'accept',
  'connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
  'proxy-authorization',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
]);
/** What a variable in a URL's host part may hold (a name, an IP, a port). */
const AUTHORITY_VALUE = /^[A-Za-z0-9.:[\]-]{1,255}$/;

type Placeholder = { kind: 'config' | 'credential'; key: string; raw: string; index: number };

function placeholders(text: string): Placeholder[] | string {
  const found: Placeholder[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const inner = match[1];
    const credential = inner.startsWith('credential:');
    const key = credential ? inner.slice('credential:'.length) : inner;
    if (!KEY.test(key))
      return `"${match[0]}" is not a variable: use {config_key} or {credential:key} (letters, digits, "_")`;
    found.push({
      kind: credential ? 'credential' : 'config',
      key,
      raw: match[0],
      index: match.index,
    });
  }
  const stray = text.replace(PLACEHOLDER, '');
  if (/[{}]/.test(stray)) return 'has an unmatched "{" or "}"';
  return found;
}

/** Where a URL template's host part ends (variables before it are host or port values). */
function authorityEnd(template: string): number {
  const start = template.indexOf('://') + 3;
  const rest = template.slice(start).search(/[/?#]/);
  return rest < 0 ? template.length : start + rest;
}

type Properties = Record<string, unknown> | undefined;

function propertiesOf(schema: unknown): Properties {
  const properties = (schema as { properties?: unknown } | null)?.properties;
  return typeof properties === 'object' && properties !== null
    ? (properties as Record<string, unknown>)
    : undefined;
}

/**
 * The problems of a remote template, one line each naming the field: the URL is http(s) with no
 * user info and no credential in it (URLs end up in logs), every variable is declared in
 * `config_schema` (or, for headers, `credential_schema`), header names are tokens the platform's
 * MCP client does not set itself, values hold no line breaks.
 */
export function checkRemoteTemplate(
  remote: RemoteTemplate,
  configSchema: unknown,
  credentialSchema: unknown,
): string[] {
  const problems: string[] = [];
  const config = propertiesOf(configSchema);
  const credentials = propertiesOf(credentialSchema);
  const declared = (field: string, p: Placeholder) => {
    const schema = p.kind === 'config' ? config : credentials;
    if (!schema?.[p.key])
      problems.push(
        `${field} refers to ${p.kind} "${p.key}", which ${p.kind === 'config' ? 'config_schema' : 'credential_schema'} does not declare`,
      );
  };

  const url = remote.url;
  if (typeof url !== 'string' || url.length === 0) problems.push('remote.url must be a URL');
  else if (url.length > MAX_REMOTE_URL_LENGTH)
    problems.push(`remote.url must be at most ${MAX_REMOTE_URL_LENGTH} characters`);
  else if (!/^https?:\/\//i.test(url))
    problems.push('remote.url must start with http:// or https://');
  else {
    const found = placeholders(url);
    if (typeof found === 'string') problems.push(`remote.url ${found}`);
    else {
      for (const p of found) {
        if (p.kind === 'credential')
          problems.push(
            `remote.url refers to credential "${p.key}": credentials go in remote.headers, never in a URL (URLs are logged)`,
          );
        else declared('remote.url', p);
      }
      let parsed: URL | undefined;
      try {
        parsed = new URL(url.replace(PLACEHOLDER, '1'));
      } catch {
        problems.push('remote.url is not a valid URL');
      }
      if (parsed && (parsed.username || parsed.password))
        problems.push('remote.url must not hold a user name or password: send them in a header');
      if (parsed && parsed.hash) problems.push('remote.url must not have a fragment (#...)');
    }
  }

  const headers = remote.headers;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    problems.push('remote.headers must be an object of header names to values');
    return problems;
  }
  const names = Object.keys(headers);
  if (names.length > MAX_REMOTE_HEADERS)
    problems.push(`remote.headers may have at most ${MAX_REMOTE_HEADERS} headers`);
  for (const name of names) {
    const field = `remote.headers.${name}`;
    const value = headers[name];
    if (!HEADER_NAME.test(name)) problems.push(`${field}: "${name}" is not a valid header name`);
    else if (RESERVED_HEADERS.has(name.toLowerCase()))
      problems.push(`${field} is set by the platform's MCP client and cannot be given`);
    if (typeof value !== 'string') {
      problems.push(`${field} must be a string`);
      continue;
    }
    if (value.length > MAX_HEADER_VALUE_LENGTH)
      problems.push(`${field} must be at most ${MAX_HEADER_VALUE_LENGTH} characters`);
    if (/[\r\n\0]/.test(value)) problems.push(`${field} must not hold a line break`);
    const found = placeholders(value);
    if (typeof found === 'string') problems.push(`${field} ${found}`);
    else for (const p of found) declared(field, p);
  }
  return problems;
}

/** A template could not be filled for this connection; the message names the field, never a value. */
export class RemoteTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteTemplateError';
  }
}

function scalar(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * The URL of a remote entry for a connection's config. A variable in the host part must be a
 * host name, an IP address or a port; one in the path or query is percent-encoded, so it can
 * never change the host, add a path segment or start a query.
 */
export function resolveRemoteUrl(template: string, config: Record<string, unknown>): URL {
  const found = placeholders(template);
  if (typeof found === 'string') throw new RemoteTemplateError(`The remote URL ${found}.`);
  const end = authorityEnd(template);
  let url = '';
  let at = 0;
  for (const p of found) {
    const value = scalar(config[p.key]);
    if (p.kind !== 'config' || value === undefined || value === '')
      throw new RemoteTemplateError(
        `The remote URL needs the config value "${p.key}"; set it in the connection's config.`,
      );
    if (p.index < end && !AUTHORITY_VALUE.test(value))
      throw new RemoteTemplateError(
        `config.${p.key} goes into the remote URL's host and must be a host name, an IP address or a port.`,
      );
    url += template.slice(at, p.index) + (p.index < end ? value : encodeURIComponent(value));
    at = p.index + p.raw.length;
  }
  url += template.slice(at);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RemoteTemplateError(
      "The remote URL is not a valid URL once filled with the connection's config.",
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new RemoteTemplateError('The remote URL must be http or https.');
  if (parsed.username || parsed.password || parsed.hash)
    throw new RemoteTemplateError('The remote URL must not hold user info or a fragment.');
  return parsed;
}

/**
 * The headers of a remote entry for a connection, credentials filled in. Missing values and
 * values that cannot travel in a header are errors naming the key, never showing a value.
 */
export function resolveRemoteHeaders(
  headers: Record<string, string>,
  config: Record<string, unknown>,
  credentials: Record<string, string>,
): Record<string, string> {
  const resolved: Record<string, string> = {};
  for (const [name, template] of Object.entries(headers)) {
    const found = placeholders(template);
    if (typeof found === 'string')
      throw new RemoteTemplateError(`The remote header ${name} ${found}.`);
    let value = '';
    let at = 0;
    for (const p of found) {
      const filled = p.kind === 'credential' ? credentials[p.key] : scalar(config[p.key]);
      if (filled === undefined || filled === '')
        throw new RemoteTemplateError(
          `The remote header ${name} needs the ${p.kind} "${p.key}"; provide it and start again.`,
        );
      if (/[\r\n\0]/.test(filled))
        throw new RemoteTemplateError(
          `The ${p.kind} "${p.key}" cannot be sent in the header ${name}: it holds a line break.`,
        );
      value += template.slice(at, p.index) + filled;
      at = p.index + p.raw.length;
    }
    resolved[name] = value + template.slice(at);
  }
  return resolved;
}
