import { isIP } from 'node:net';

/** A place a connection's user told it to reach: a field's host and port. */
export interface EgressTarget {
  /** Where the value came from, as the API names it (`config.api_base_url`). */
  field: string;
  host: string;
  port: number;
}

const DEFAULT_PORTS: Record<string, number> = {
  'http:': 80,
  'https:': 443,
  'ws:': 80,
  'wss:': 443,
  'postgres:': 5432,
  'postgresql:': 5432,
  'mysql:': 3306,
  'mariadb:': 3306,
  'mongodb:': 27017,
  'redis:': 6379,
  'rediss:': 6379,
  'amqp:': 5672,
  'amqps:': 5671,
  'imap:': 143,
  'imaps:': 993,
  'smtp:': 25,
  'smtps:': 465,
};

export class TargetParseError extends Error {}

/** A host as a URL carries it, without IPv6 brackets. */
function bareHost(host: string): string {
  return host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/**
 * The hosts and ports a value names: a URL (`https://api.example.com/v1`), a connection string
 * (`postgresql://user:pw@db:5432/x`, several hosts allowed: `h1:5432,h2:5433`), or a libpq
 * keyword string (`host=db port=5432 ...`). Throws when no host can be read from it.
 */
export function hostsOf(value: string): { host: string; port: number }[] {
  const text = value.trim();
  const keywords = /(?:^|\s)host\s*=\s*'?([^\s']+)'?/.exec(text);
  if (keywords && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    const portMatch = /(?:^|\s)port\s*=\s*'?(\d+)'?/.exec(text);
    const ports = portMatch ? portMatch[1].split(',').map(Number) : [5432];
    return keywords[1].split(',').map((host, i) => ({
      host: bareHost(host),
      port: ports[i] ?? ports[0],
    }));
  }
  const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(text);
  if (!scheme) throw new TargetParseError('is not a URL or connection string');
  const protocol = scheme[1].toLowerCase();
  const defaultPort = DEFAULT_PORTS[protocol];
  // The authority: after the scheme, before the path, query or fragment; credentials dropped.
  const authority = text.slice(scheme[0].length).split(/[/?#]/)[0];
  const hostPart = authority.slice(authority.lastIndexOf('@') + 1);
  if (!hostPart) throw new TargetParseError('names no host');
  const hosts: { host: string; port: number }[] = [];
  for (const item of hostPart.split(',')) {
    const m = /^(\[[^\]]+\]|[^:]*)(?::(\d*))?$/.exec(item);
    if (!m || !m[1]) throw new TargetParseError('has a host that cannot be read');
    const port = m[2] ? Number(m[2]) : defaultPort;
    if (port === undefined || port < 1 || port > 65535)
      throw new TargetParseError(`has no port and ${protocol} has no default one`);
    let host = bareHost(m[1]);
    try {
      host = decodeURIComponent(host);
    } catch {
      throw new TargetParseError('has a host that cannot be read');
    }
    // Read web hosts as the WHATWG URL parser (and so every HTTP client) does: IPv4 written
    // oddly (0x7f.1, 2130706433) becomes dotted, international names become punycode.
    if (isIP(host) === 0 && ['http:', 'https:', 'ws:', 'wss:'].includes(protocol)) {
      try {
        host = new URL(`${protocol}//${host}/`).hostname;
      } catch {
        throw new TargetParseError('has a host that cannot be read');
      }
    }
    hosts.push({ host, port });
  }
  // libpq and the pg driver let the query override the authority (`?host=...&port=...`).
  const query = text.includes('?')
    ? new URLSearchParams(text.slice(text.indexOf('?') + 1).split('#')[0])
    : null;
  for (const name of ['host', 'hostaddr']) {
    const override = query?.get(name);
    if (!override || override.startsWith('/')) continue;
    const port = Number(query?.get('port') ?? hosts[0].port);
    for (const host of override.split(',')) hosts.push({ host: bareHost(host), port });
  }
  return hosts;
}

/** The fields of a JSON Schema whose values are places to connect to (`"x-egress-target": true`). */
export function egressTargetFields(schema: unknown): string[] {
  return Object.entries(propertiesOf(schema))
    .filter(([, p]) => p?.['x-egress-target'] === true)
    .map(([key]) => key);
}

function propertiesOf(schema: unknown): Record<string, Record<string, unknown> | null> {
  const properties = (schema as { properties?: unknown } | null)?.properties;
  return properties && typeof properties === 'object'
    ? (properties as Record<string, Record<string, unknown> | null>)
    : {};
}

/**
 * A bare host (`mail.example.com`, `10.0.0.5`, `::1` or `[::1]`), as a host field holds it: a
 * name of letters, digits, dots, dashes and underscores, or an IP literal. Anything else (a
 * scheme, a path, credentials, a port) is refused, so the host checked is the host used.
 */
export function bareHostOf(value: string): string {
  const host = bareHost(value.trim());
  if (isIP(host) !== 0) return host;
  if (
    host.length > 253 ||
    !/^[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?$/.test(host) ||
    host.includes('..')
  )
    throw new TargetParseError('is not a host name or IP address');
  return host;
}

/**
 * The port of a host field marked `"x-egress-port": "<field>"`: that sibling field's value (a
 * number or a numeric string), else its schema's `default`.
 */
function portOf(
  portField: string,
  properties: Record<string, Record<string, unknown> | null>,
  values: Record<string, unknown>,
): number {
  const given = values[portField] ?? properties[portField]?.default;
  const port = typeof given === 'string' && /^\d+$/.test(given.trim()) ? Number(given) : given;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
    throw new TargetParseError(`has no port (${portField} is not a port from 1 to 65535)`);
  return port;
}

/**
 * The user-given targets among a connection's values: every field marked `x-egress-target` in
 * its schema that has a value. The value is a URL or connection string, or, when the field also
 * names its port field (`"x-egress-port": "imap_port"`), a bare host whose port that field holds
 * (mail servers take host and port apart). `prefix` names the object in messages (`config`,
 * `provided_credential_schema`). Throws TargetParseError with the field in its message.
 */
export function egressTargets(
  schema: unknown,
  values: Record<string, unknown>,
  prefix: string,
): EgressTarget[] {
  const properties = propertiesOf(schema);
  const targets: EgressTarget[] = [];
  for (const key of egressTargetFields(schema)) {
    const value = values[key];
    if (typeof value !== 'string' || value.trim() === '') continue;
    const portField = properties[key]?.['x-egress-port'];
    let hosts: { host: string; port: number }[];
    try {
      hosts =
        typeof portField === 'string'
          ? [{ host: bareHostOf(value), port: portOf(portField, properties, values) }]
          : hostsOf(value);
    } catch (error) {
      throw new TargetParseError(`${prefix}.${key} ${(error as Error).message}`);
    }
    for (const { host, port } of hosts) targets.push({ field: `${prefix}.${key}`, host, port });
  }
  return targets;
}
