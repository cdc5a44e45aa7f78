import { DomainError } from '@athenic/contracts';
import { lookup } from 'node:dns/promises';
import { parseAllowPrivate } from './allow-private';
import { EgressGuard } from './egress-guard';
import { type EgressTarget, TargetParseError, egressTargets } from './targets';
import { hostsOf } from './targets';

/**
 * Refuses, before anything is written, a connection whose user-given targets can never be
 * reached: an IP literal or a name that resolves only to refused addresses answers 400
 * `egress_denied` naming the field. A name that does not resolve now passes (it may later);
 * the egress proxy checks every connection again when it is made. `secret`: the values are
 * credentials, whose hosts are not repeated in the message.
 */
export async function refuseDeniedTargets(
  guard: EgressGuard,
  schema: unknown,
  values: Record<string, unknown>,
  prefix: string,
  secret = false,
): Promise<void> {
  let targets: EgressTarget[];
  try {
    targets = egressTargets(schema, values, prefix);
  } catch (error) {
    if (error instanceof TargetParseError)
      throw new DomainError('validation_failed', `${error.message}.`, [error.message]);
    throw error;
  }
  for (const target of targets) {
    const decision = await guard.decide(target.host, target.port);
    if (decision.allowed || decision.unresolved) continue;
    // A credential's host is not repeated back (it is part of a secret): only what kind it is.
    const kind = /is an? (.+?) address|(the platform's own host)/.exec(decision.reason);
    const message = secret
      ? `${target.field} names ${kind ? `a ${kind[1] ?? 'platform'} address` : 'an address'} that no sandbox may reach (open it with EGRESS_ALLOW_PRIVATE if it is an on-premise service).`
      : `${target.field} names ${target.host}:${target.port}, which no sandbox may reach: ${decision.reason}.`;
    throw new DomainError('egress_denied', message, [message]);
  }
}

/**
 * The platform's own listeners that may not be on this host (a database or broker elsewhere),
 * from their URLs: no sandbox may reach them. This host's own addresses are refused already.
 */
export async function platformListeners(urls: string[]): Promise<{ ip: string; port: number }[]> {
  const listeners: { ip: string; port: number }[] = [];
  for (const url of urls) {
    let hosts: { host: string; port: number }[];
    try {
      hosts = hostsOf(url);
    } catch {
      continue;
    }
    for (const { host, port } of hosts) {
      const addresses = await lookup(host, { all: true }).catch(() => []);
      for (const { address } of addresses) listeners.push({ ip: address, port });
    }
  }
  return listeners;
}

/** The settings of the egress rule, as every service that checks it reads them. */
export interface EgressEnv {
  EGRESS_ALLOW_PRIVATE?: string;
  DATABASE_URL: string;
  AMQP_URL: string;
}

/**
 * The egress guard of a service: EGRESS_ALLOW_PRIVATE's openings, and the platform's own
 * database and broker among the listeners no sandbox may reach.
 */
export async function createEgressGuard(env: EgressEnv): Promise<EgressGuard> {
  return new EgressGuard({
    openings: parseAllowPrivate(env.EGRESS_ALLOW_PRIVATE),
    ownListeners: await platformListeners([env.DATABASE_URL, env.AMQP_URL]),
  });
}
