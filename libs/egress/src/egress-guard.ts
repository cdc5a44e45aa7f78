import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { canonicalIp, refusedRange } from './address-rules';
import { type PrivateOpening, findOpening } from './allow-private';

export type Lookup = (host: string) => Promise<string[]>;

/** The decision on one destination: where to connect, or why not. */
export type EgressDecision =
  | { allowed: true; addresses: string[] }
  | {
      allowed: false;
      reason: string;
      /** The name could not be resolved (it may be later). */ unresolved?: true;
    };

export interface EgressGuardOptions {
  /** EGRESS_ALLOW_PRIVATE, parsed. */
  openings: readonly PrivateOpening[];
  /**
   * The platform's own listeners (an IP and port, or an IP without port for every port): refused
   * even when a CIDR opening covers them; only an opening naming the port opens one.
   */
  ownListeners?: readonly { ip: string; port?: number }[];
  /** Name resolution (the platform's, never the sandbox's); the system resolver by default. */
  lookup?: Lookup;
  /** Whether this host's own interface addresses count as platform listeners (default true). */
  includeHostAddresses?: boolean;
}

const systemLookup: Lookup = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((entry) => entry.address);

/** Every address of this machine's interfaces: servers of the platform may listen on any of them. */
export function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .map((entry) => canonicalIp(entry.address.replace(/%.*$/, '')));
}

/**
 * The egress rule (docs/security/egress.md): a name is resolved here, then each address is
 * checked; loopback, private, link-local, CGNAT, multicast, unspecified and reserved addresses,
 * and the platform's own, are refused unless EGRESS_ALLOW_PRIVATE opens them. The caller
 * connects to an address this returned, never to the name again (no DNS rebinding).
 */
export class EgressGuard {
  private readonly lookup: Lookup;
  private readonly own = new Map<string, Set<number> | 'all'>();

  constructor(private readonly options: EgressGuardOptions) {
    this.lookup = options.lookup ?? systemLookup;
    const listeners: { ip: string; port?: number }[] = [
      ...(options.includeHostAddresses === false ? [] : hostAddresses().map((ip) => ({ ip }))),
      ...(options.ownListeners ?? []),
    ];
    for (const { ip, port } of listeners) {
      const key = canonicalIp(ip);
      const ports = this.own.get(key);
      if (port === undefined) this.own.set(key, 'all');
      else if (ports !== 'all') this.own.set(key, new Set([...(ports ?? []), port]));
    }
  }

  /** Why one address may not be reached on `port` when asked as `host`, or null when it may. */
  refusal(host: string, ip: string, port: number): string | null {
    const address = canonicalIp(ip);
    const own = this.own.get(address);
    const isOwn = own === 'all' || own?.has(port);
    if (isOwn) {
      return findOpening(this.options.openings, host, address, port, true)
        ? null
        : `${address}:${port} is an address of the platform's own host (only an EGRESS_ALLOW_PRIVATE entry naming this port opens it)`;
    }
    const range = refusedRange(address);
    if (!range) return null;
    return findOpening(this.options.openings, host, address, port)
      ? null
      : `${address} is a ${range} address (open it with EGRESS_ALLOW_PRIVATE)`;
  }

  /** Resolves `host` and keeps the addresses that may be reached on `port`. */
  async decide(host: string, port: number): Promise<EgressDecision> {
    const bare = host.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    let addresses: string[];
    if (isIP(bare) !== 0) addresses = [bare];
    else {
      try {
        addresses = await this.lookup(bare);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? 'error';
        return {
          allowed: false,
          reason: `${bare} could not be resolved (${code})`,
          unresolved: true,
        };
      }
      if (addresses.length === 0)
        return {
          allowed: false,
          reason: `${bare} could not be resolved (no address)`,
          unresolved: true,
        };
    }
    const allowed: string[] = [];
    let firstReason: string | null = null;
    for (const address of addresses) {
      const reason = this.refusal(bare, address, port);
      if (reason === null) allowed.push(address);
      else firstReason ??= reason;
    }
    return allowed.length > 0
      ? { allowed: true, addresses: allowed }
      : {
          allowed: false,
          reason: isIP(bare) !== 0 ? firstReason! : `${bare} resolves to ${firstReason!}`,
        };
  }
}
