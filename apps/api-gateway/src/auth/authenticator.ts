import {
  type ApiKeyRevokedEvent,
  CredentialApiKeyRevoked,
  CredentialApiKeyVerify,
  DomainError,
} from '@athenic/contracts';
import { BusClient, Handle } from '@athenic/messaging';
import { RUN_TOKEN_PREFIX, verifyRunToken } from '@athenic/platform-crypto';
import { Controller, Inject, Injectable } from '@nestjs/common';
import { hash, timingSafeEqual } from 'node:crypto';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import type { Principal } from './principal';
import { WorkerPeers } from '../cluster/worker-peers';

/** Verified keys are trusted this long before asking again; revocation events cut it short. */
const VERIFIED_TTL_MS = 2000;
const REJECTED_TTL_MS = 1000;
const MAX_ENTRIES = 10_000;

export type Authentication =
  { ok: true; principal: Principal } | { ok: false; reason: 'missing' | 'invalid' };

export function sha256Hex(value: string): string {
  return hash('sha256', value, 'hex');
}

/**
 * Turns a bearer token into a principal: the service role key, a run token (verified here, by
 * its signature), or an account API key known to the credential service by its hash. Answers are cached for two seconds so the hot path (the
 * MCP proxy) does not ask the bus on every message; a revocation takes effect at once through
 * its event, and within two seconds even if the event is lost.
 */
@Injectable()
export class Authenticator {
  private readonly serviceDigest: Buffer;
  private readonly cache = new Map<string, { principal: Principal | null; until: number }>();

  private readonly internalSecret: string;

  /** Drops a key from the cache of every worker of the gateway (a revocation). */
  readonly forget: (hash: string) => void;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    private readonly bus: BusClient,
    peers: WorkerPeers,
  ) {
    this.serviceDigest = hash('sha256', config.serviceRoleKey, 'buffer');
    this.internalSecret = config.internalSecret;
    this.forget = peers.shared('auth.forget', (keyHash: string) => this.cache.delete(keyHash));
  }

  async authenticate(authorization: string | undefined): Promise<Authentication> {
    const match =
      typeof authorization === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
    if (!match) return { ok: false, reason: 'missing' };
    const token = match[1];
    // Every request hashes its key (the cache below is keyed by hash, never by the key itself):
    // the one-shot crypto.hash costs a third of a Hash object's create, update and digest.
    const digest = hash('sha256', token, 'buffer');
    if (timingSafeEqual(digest, this.serviceDigest))
      return { ok: true, principal: { kind: 'service' } };
    if (token.startsWith(RUN_TOKEN_PREFIX)) {
      const claims = await verifyRunToken(this.internalSecret, token);
      return claims
        ? {
            ok: true,
            principal: {
              kind: 'run',
              accountId: claims.accountId,
              connectionIds: claims.connectionIds,
              tokenId: digest.toString('hex', 0, 16),
            },
          }
        : { ok: false, reason: 'invalid' };
    }
    if (!/^ak_[A-Za-z0-9_-]{20,100}$/.test(token)) return { ok: false, reason: 'invalid' };
    const principal = await this.accountKey(digest.toString('hex'));
    return principal ? { ok: true, principal } : { ok: false, reason: 'invalid' };
  }

  private async accountKey(hash: string): Promise<Principal | null> {
    const cached = this.cache.get(hash);
    if (cached && cached.until > Date.now()) return cached.principal;
    let principal: Principal | null;
    try {
      const key = await this.bus.send(
        CredentialApiKeyVerify,
        { key_hash: hash },
        { timeoutMs: 3000 },
      );
      principal = { kind: 'account', accountId: key.account_id, keyId: key.id };
    } catch (error) {
      if (!(error instanceof DomainError) || error.code !== 'not_found') throw error;
      principal = null;
    }
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(hash, {
      principal,
      until: Date.now() + (principal ? VERIFIED_TTL_MS : REJECTED_TTL_MS),
    });
    return principal;
  }
}

/** Drops a revoked key from the cache the moment the credential service says so. */
@Controller()
export class ApiKeyRevocationListener {
  constructor(private readonly authenticator: Authenticator) {}

  @Handle(CredentialApiKeyRevoked)
  revoked(event: ApiKeyRevokedEvent): void {
    this.authenticator.forget(event.key_hash);
  }
}
