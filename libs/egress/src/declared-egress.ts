/** One item of a server type's `egress`: `*`, `host` or `*.suffix`, each with an optional port. */
export interface EgressPattern {
  /** null for `*` (any public host). */
  host: string | null;
  /** `*.suffix` matches the suffix's subdomains, not the suffix itself. */
  wildcard: boolean;
  port: number | null;
}

export function parseEgressPattern(item: string): EgressPattern {
  const match = /^(.*?)(?::(\d{1,5}))?$/.exec(item.trim())!;
  const port = match[2] === undefined ? null : Number(match[2]);
  const host = match[1].toLowerCase();
  if (host === '*') return { host: null, wildcard: true, port };
  if (host.startsWith('*.')) return { host: host.slice(2), wildcard: true, port };
  return { host, wildcard: false, port };
}

/** Whether a declared pattern allows a connection to `host:port` (host as the server asked it). */
export function patternAllows(pattern: EgressPattern, host: string, port: number): boolean {
  if (pattern.port !== null && pattern.port !== port) return false;
  const asked = host.toLowerCase().replace(/\.$/, '');
  if (pattern.host === null) return true;
  if (pattern.wildcard) return asked.endsWith(`.${pattern.host}`);
  return asked === pattern.host;
}
