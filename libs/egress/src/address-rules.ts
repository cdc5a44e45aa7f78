import { BlockList, isIP } from 'node:net';

/** Why an address is not one a sandbox may reach on its own. */
export type RefusedRange =
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade NAT'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'documentation'
  | 'unique local';

/**
 * Address ranges that are never "the public internet": a sandbox reaches them only where the
 * operator opened them with EGRESS_ALLOW_PRIVATE (docs/security/egress.md).
 */
const RANGES: [RefusedRange, 'ipv4' | 'ipv6', string, number][] = [
  ['unspecified', 'ipv4', '0.0.0.0', 8],
  ['private', 'ipv4', '10.0.0.0', 8],
  ['carrier-grade NAT', 'ipv4', '100.64.0.0', 10],
  ['loopback', 'ipv4', '127.0.0.0', 8],
  ['link-local', 'ipv4', '169.254.0.0', 16],
  ['private', 'ipv4', '172.16.0.0', 12],
  ['reserved', 'ipv4', '192.0.0.0', 24],
  ['documentation', 'ipv4', '192.0.2.0', 24],
  ['private', 'ipv4', '192.168.0.0', 16],
  ['reserved', 'ipv4', '198.18.0.0', 15],
  ['documentation', 'ipv4', '198.51.100.0', 24],
  ['documentation', 'ipv4', '203.0.113.0', 24],
  ['multicast', 'ipv4', '224.0.0.0', 4],
  ['reserved', 'ipv4', '240.0.0.0', 4],
  ['unspecified', 'ipv6', '::', 128],
  ['loopback', 'ipv6', '::1', 128],
  ['reserved', 'ipv6', '100::', 64],
  ['documentation', 'ipv6', '2001:db8::', 32],
  ['unique local', 'ipv6', 'fc00::', 7],
  ['link-local', 'ipv6', 'fe80::', 10],
  ['reserved', 'ipv6', 'fec0::', 10],
  ['multicast', 'ipv6', 'ff00::', 8],
];

/** The refused IPv4 blocks as CIDR text (for allow-lists that take blocks, such as E2B's). */
export const REFUSED_IPV4_BLOCKS: readonly string[] = RANGES.filter(
  ([, family]) => family === 'ipv4',
).map(([, , network, prefix]) => `${network}/${prefix}`);

const LISTS = RANGES.map(([name, family, network, prefix]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { name, family, list };
});

/** An IPv4 address carried inside an IPv6 one (mapped, NAT64, 6to4 prefixes), or null. */
function embeddedIpv4(ip: string): string | null {
  const lower = ip.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::|::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return null;
  const high = parseInt(hex[1], 16);
  const low = parseInt(hex[2], 16);
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** The refused range an IP address falls in, or null for a public address. Not an IP: 'reserved'. */
export function refusedRange(ip: string): RefusedRange | null {
  const family = isIP(ip);
  if (family === 0) return 'reserved';
  if (family === 6) {
    const v4 = embeddedIpv4(ip);
    if (v4) return refusedRange(v4);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const { name, family: f, list } of LISTS) {
    if (f === type && list.check(ip, type)) return name;
  }
  return null;
}

/** Whether an address is in a CIDR block (both of one family; IPv4-mapped IPv6 compared as IPv4). */
export function inSubnet(ip: string, network: string, prefix: number): boolean {
  const plain = isIP(ip) === 6 ? (embeddedIpv4(ip) ?? ip) : ip;
  const family = isIP(network) === 4 ? 'ipv4' : 'ipv6';
  if ((isIP(plain) === 4 ? 'ipv4' : 'ipv6') !== family) return false;
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return list.check(plain, family);
}

/** An address in a canonical form for comparison (IPv4-mapped IPv6 as IPv4, lower case). */
export function canonicalIp(ip: string): string {
  return isIP(ip) === 6 ? (embeddedIpv4(ip) ?? ip.toLowerCase()) : ip;
}
