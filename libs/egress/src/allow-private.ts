import { isIP } from 'node:net';
import { canonicalIp, inSubnet } from './address-rules';

/** One opening of EGRESS_ALLOW_PRIVATE: a host (name or IP) or a CIDR block, with or without a port. */
export type PrivateOpening =
  | { kind: 'host'; host: string; port: number | null; text: string }
  | { kind: 'cidr'; network: string; prefix: number; port: number | null; text: string };

export class EgressConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EgressConfigError';
  }
}

const HOST_NAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

function parsePort(text: string, item: string): number {
  const port = Number(text);
  if (!/^\d{1,5}$/.test(text) || port < 1 || port > 65535)
    throw new EgressConfigError(`EGRESS_ALLOW_PRIVATE: "${item}" has an invalid port`);
  return port;
}

/**
 * Parses EGRESS_ALLOW_PRIVATE: comma-separated `host:port`, `ip[:port]`, `cidr[:port]`, with IPv6
 * in brackets when a port follows (`[fd00::/8]:5432`). Throws naming the bad item.
 */
export function parseAllowPrivate(value: string | undefined): PrivateOpening[] {
  const openings: PrivateOpening[] = [];
  for (const raw of (value ?? '').split(',')) {
    const item = raw.trim();
    if (!item) continue;
    let address = item;
    let port: number | null = null;
    const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(item);
    if (bracketed) {
      address = bracketed[1];
      if (bracketed[2] !== undefined) port = parsePort(bracketed[2], item);
    } else if ((item.match(/:/g) ?? []).length === 1) {
      const at = item.lastIndexOf(':');
      address = item.slice(0, at);
      port = parsePort(item.slice(at + 1), item);
    }
    const slash = address.indexOf('/');
    if (slash >= 0) {
      const network = address.slice(0, slash);
      const prefixText = address.slice(slash + 1);
      const family = isIP(network);
      const prefix = Number(prefixText);
      if (family === 0 || !/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) {
        throw new EgressConfigError(`EGRESS_ALLOW_PRIVATE: "${item}" is not a valid CIDR block`);
      }
      openings.push({ kind: 'cidr', network, prefix, port, text: item });
      continue;
    }
    if (isIP(address) !== 0) {
      const family = isIP(address);
      openings.push({
        kind: 'cidr',
        network: address,
        prefix: family === 4 ? 32 : 128,
        port,
        text: item,
      });
      continue;
    }
    if (!HOST_NAME.test(address) || port === null) {
      throw new EgressConfigError(
        `EGRESS_ALLOW_PRIVATE: "${item}" must be host:port, an IP address or a CIDR block, each with an optional :port`,
      );
    }
    openings.push({ kind: 'host', host: address.toLowerCase(), port, text: item });
  }
  return openings;
}

/**
 * The opening that lets `host` (as asked) reach `ip:port`, or undefined. `explicitPortOnly`
 * counts only openings that name a port (the platform's own listeners need one).
 */
export function findOpening(
  openings: readonly PrivateOpening[],
  host: string,
  ip: string,
  port: number,
  explicitPortOnly = false,
): PrivateOpening | undefined {
  const asked = host.toLowerCase();
  const address = canonicalIp(ip);
  return openings.find((opening) => {
    if (opening.port === null ? explicitPortOnly : opening.port !== port) return false;
    if (opening.kind === 'host')
      return opening.host === asked || canonicalIp(opening.host) === address;
    return inSubnet(address, opening.network, opening.prefix);
  });
}
