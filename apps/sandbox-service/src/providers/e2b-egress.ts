import {
  type EgressTarget,
  type PrivateOpening,
  REFUSED_IPV4_BLOCKS,
  canonicalIp,
  findOpening,
  inSubnet,
  parseEgressPattern,
  refusedRange,
} from '@athenic/egress';
import { ALL_TRAFFIC, type SandboxNetworkUpdate } from 'e2b';
import { isIP } from 'node:net';

/*
 * What E2B's `network` option means (e2b 2.51.0, dist/index.d.ts):
 * - `allowOut`: "Each entry can be a CIDR block (e.g. "8.8.8.8/32"), a bare IP address (e.g.
 *   "8.8.8.8"), or a domain name (e.g. "example.com", "*.example.com"). Allowed entries always
 *   take precedence over denied entries." Without `allowOut` all outbound traffic is allowed.
 * - `denyOut`: "List of denied CIDR blocks or IP addresses for egress traffic. Domain names are
 *   not supported for deny rules."
 * - `allowInternetAccess: false` "behaves the same as specifying denyOut to 0.0.0.0/0".
 * - "All traffic" is `ALL_TRAFFIC = "0.0.0.0/0"`: there is no IPv6 counterpart, and no entry
 *   names a port.
 * E2B's documentation adds: a domain entry needs 0.0.0.0/0 in `denyOut`, and is matched only on
 * port 80 (HTTP Host header) and 443 (TLS SNI); other ports are filtered by address only.
 * E2B's API (e2b-dev/infra) refuses a deny entry whose address is 0.0.0.0 other than 0.0.0.0/0,
 * and always blocks its own private ranges (10/8, 172.16/12, 192.168/16, 169.254/16, ...).
 */

/** What `Sandbox.create` (and, as `SandboxNetworkUpdate`, `updateNetwork`) is given. */
export interface E2bEgress {
  allowInternetAccess?: boolean;
  network?: { allowOut?: string[]; denyOut: string[] };
}

interface Cidr {
  network: string;
  prefix: number;
}

const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/**
 * A CIDR block as E2B takes it: one starting at 0.0.0.0 (other than 0.0.0.0/0) as the blocks
 * that cover all of it but 0.0.0.0 itself, which E2B refuses and which a sandbox's connect
 * reaches only on its own loopback.
 */
function cidrEntries({ network, prefix }: Cidr): string[] {
  if (network !== '0.0.0.0' || prefix === 0) return [`${network}/${prefix}`];
  const blocks: string[] = [];
  for (let bits = 0; bits < 32 - prefix; bits++) blocks.push(`${dotted(2 ** bits)}/${32 - bits}`);
  return blocks;
}

/** The refused ranges as E2B deny entries. */
export const REFUSED_DENY_OUT: readonly string[] = REFUSED_IPV4_BLOCKS.flatMap((cidr) => {
  const [network, prefix] = cidr.split('/');
  return cidrEntries({ network, prefix: Number(prefix) });
});

/** Blocks contained in another one of the list left out (and duplicates): no overlapping entries. */
function withoutCovered(cidrs: Cidr[]): Cidr[] {
  return cidrs.filter(
    (c, i) =>
      !cidrs.some(
        (o, j) =>
          j !== i &&
          o.prefix <= c.prefix &&
          inSubnet(c.network, o.network, o.prefix) &&
          (o.prefix < c.prefix || j < i),
      ),
  );
}

/** A host as a domain entry: lower case, without a trailing dot. */
const domain = (host: string) => host.toLowerCase().replace(/\.$/, '');

/**
 * E2B's egress options for a sandbox (docs/security/egress.md), E2B's rules as above:
 *
 * - no declared egress and no targets: `allowInternetAccess: false` (nothing goes out);
 * - `*` among the declared egress: `allowInternetAccess: true`; `denyOut` holds every refused
 *   IPv4 range (private, loopback, link-local 169.254.0.0/16 with cloud metadata, CGNAT,
 *   multicast, unspecified, reserved, documentation); `allowOut` the IPv4 CIDR and IP openings
 *   of EGRESS_ALLOW_PRIVATE, which win over `denyOut`. Targets add nothing: any public host is
 *   allowed already, and a host name in `allowOut` would escape the refused ranges. Host-name
 *   openings cannot be expressed (a domain entry needs 0.0.0.0/0 denied): open those by IP;
 * - otherwise (named hosts, targets): `denyOut: ['0.0.0.0/0']` and `allowOut` = the declared
 *   hosts (`host`, `*.suffix`) and the targets' host names as domain entries, and their IPv4
 *   literals as `ip/32` when public or covered by an opening (a refused one not opened is left
 *   out; openings themselves grant nothing here). Nothing left to allow: no internet.
 *
 * Lost on E2B: ports (entries name none: a declared `host:443` allows every port of the host,
 * an opening `10.0.0.5:5432` all of 10.0.0.5); names on ports other than 80 and 443 (a target
 * `db.example.com:5432` is not reachable by name); IPv6 (no IPv6 entry is sent). A domain entry
 * is dialed by E2B, which refuses only its own private ranges, not all refused ranges.
 */
export function egressOptions(
  egress: readonly string[],
  targets: readonly EgressTarget[],
  openings: readonly PrivateOpening[],
): E2bEgress {
  const patterns = egress.map(parseEgressPattern);
  if (patterns.some((p) => p.host === null)) {
    const opened = openings.flatMap((o) =>
      o.kind === 'cidr' && isIP(o.network) === 4 ? [{ network: o.network, prefix: o.prefix }] : [],
    );
    const allowOut = withoutCovered(opened).flatMap(cidrEntries);
    return {
      allowInternetAccess: true,
      network: { ...(allowOut.length > 0 ? { allowOut } : {}), denyOut: [...REFUSED_DENY_OUT] },
    };
  }

  const domains = new Set<string>();
  const cidrs: Cidr[] = [];
  // An IP literal: public, or refused but opened (for the port, or any port when none is named).
  const address = (host: string, ip: string, port: number | null) => {
    const plain = canonicalIp(ip);
    if (isIP(plain) !== 4) return;
    const opened =
      port === null
        ? openings.some((o) => findOpening([{ ...o, port: null }], host, plain, 0))
        : findOpening(openings, host, plain, port) !== undefined;
    if (refusedRange(plain) === null || opened) cidrs.push({ network: plain, prefix: 32 });
  };
  for (const { host: declared, wildcard, port } of patterns) {
    const host = (declared ?? '').replace(/^\[(.*)\]$/, '$1');
    if (wildcard) domains.add(`*.${domain(host)}`);
    else if (isIP(host) !== 0) address(host, host, port);
    else domains.add(domain(host));
  }
  for (const t of targets) {
    const host = t.host.replace(/^\[(.*)\]$/, '$1');
    if (isIP(host) !== 0) address(host, host, t.port);
    else domains.add(domain(host));
  }
  const allowOut = [...domains, ...withoutCovered(cidrs).flatMap(cidrEntries)];
  if (allowOut.length === 0) return { allowInternetAccess: false };
  return { network: { allowOut, denyOut: [ALL_TRAFFIC] } };
}

/** The same rules as a network update of a running sandbox (which replaces all of them). */
export function egressUpdate(options: E2bEgress): SandboxNetworkUpdate {
  return {
    ...(options.allowInternetAccess === undefined
      ? {}
      : { allowInternetAccess: options.allowInternetAccess }),
    ...options.network,
  };
}
