import { DomainError } from '@athenic/contracts';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import Redis from 'ioredis';
import cluster from 'node:cluster';
import {
  type RateLimiterAbstract,
  RateLimiterCluster,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  RateLimiterUnion,
} from 'rate-limiter-flexible';
import { WorkerPeers } from '../cluster/worker-peers';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';

/** A limit was reached; `retryAfterS` becomes the 429's `Retry-After`. */
export class RateLimitedError extends DomainError {
  constructor(
    readonly retryAfterS: number,
    message: string,
  ) {
    super('rate_limited', message);
  }
}

/** Which request window refused a request, the seconds to wait (Retry-After) and, exactly, when it opens again. */
export interface RequestRefusal {
  limit: 'requests' | 'requestsPerSecond';
  wait: number;
  reopensInMs: number;
}

/** What is counted, and per what (docs/security/limits.md). */
export type LimitName =
  'requests' | 'requestsPerSecond' | 'authFailures' | 'installs' | 'agentRuns';

/** Each limit's window: a minute, except the per-second spread of requests. */
const WINDOW_S: Record<LimitName, number> = {
  requests: 60,
  requestsPerSecond: 1,
  authFailures: 60,
  installs: 60,
  agentRuns: 60,
};

/**
 * The gateway's rate limits (rate-limiter-flexible). With REDIS_URL the counters live in Redis and
 * every gateway replica shares them; a Redis that does not answer falls back to this replica's own
 * counters (the library's insurance limiter) rather than refusing or letting everything through.
 * Without REDIS_URL the counters are this replica's: its own, or its primary's when it runs as
 * several workers (GATEWAY_WORKERS). Authentication failures also
 * block their source address locally, so a blocked address costs no lookup at all.
 */
@Injectable()
export class RateLimits implements OnApplicationShutdown {
  private readonly log = new Logger('RateLimits');
  private readonly limiters: Record<LimitName, RateLimiterAbstract>;
  private readonly redis: Redis | undefined;
  private readonly blocked = new Map<string, number>();
  private readonly points: Record<LimitName, number>;
  /** An account's request rate: both windows counted at once (see takeRequest). */
  private readonly requestRate: RateLimiterUnion;

  /** Blocks an address in every worker of the gateway: it is refused there before any lookup too. */
  private readonly block: (address: string, seconds: number) => void;

  constructor(
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
    peers: WorkerPeers = new WorkerPeers(),
  ) {
    this.block = peers.shared('limits.block', (address: string, seconds: number) => {
      if (this.blocked.size >= 100_000) this.blocked.delete(this.blocked.keys().next().value!);
      this.blocked.set(address, Date.now() + seconds * 1000);
    });
    const env = config.env;
    this.points = {
      requests: env.RATE_LIMIT_REQUESTS_PER_MINUTE,
      requestsPerSecond: env.RATE_LIMIT_REQUESTS_PER_SECOND,
      authFailures: env.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE,
      installs: env.RATE_LIMIT_INSTALLS_PER_MINUTE,
      agentRuns: env.RATE_LIMIT_AGENT_RUNS_PER_MINUTE,
    };
    if (env.REDIS_URL) {
      this.redis = new Redis(env.REDIS_URL, {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        lazyConnect: false,
        // Commands sent in the same tick go out in one write: the two windows of a request's
        // rate, and those of the requests served together under load, cost one round trip.
        enableAutoPipelining: true,
      });
      let reported = false;
      this.redis.on('error', (error: Error) => {
        if (reported) return;
        reported = true;
        this.log.warn(
          `Redis for rate limits does not answer (${error.message}); counting on this replica meanwhile`,
        );
      });
      this.redis.on('ready', () => (reported = false));
    }
    const make = (name: LimitName): RateLimiterAbstract => {
      const options = {
        keyPrefix: `${env.REDIS_KEY_PREFIX}rl:${name}`,
        points: this.points[name],
        duration: WINDOW_S[name],
      };
      if (!this.redis)
        // A worker of several (GATEWAY_WORKERS) counts in the primary, so the workers share one
        // count (cluster/primary.ts); a primary that does not answer lets the request through.
        return cluster.isWorker
          ? new RateLimiterCluster({ ...options, timeoutMs: 3000 })
          : new RateLimiterMemory(options);
      return new RateLimiterRedis({
        ...options,
        storeClient: this.redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: new RateLimiterMemory(options),
      });
    };
    this.limiters = {
      requests: make('requests'),
      requestsPerSecond: make('requestsPerSecond'),
      authFailures: make('authFailures'),
      installs: make('installs'),
      agentRuns: make('agentRuns'),
    };
    this.requestRate = new RateLimiterUnion(
      this.limiters.requestsPerSecond,
      this.limiters.requests,
    );
  }

  /**
   * Counts one request of an account in both windows, the second's and the minute's, at once
   * (rate-limiter-flexible's RateLimiterUnion: one Redis round trip with auto-pipelining, where
   * asking one after the other took two). Undefined while within both, else the limit refused
   * (the minute's when both did: its wait is the longer), the seconds to wait and the
   * milliseconds until that window opens again. A request
   * refused by one window still counts in the other. A store failure lets the request through,
   * logged, like take().
   */
  async takeRequest(accountId: string): Promise<RequestRefusal | undefined> {
    try {
      await this.requestRate.consume(accountId);
      return undefined;
    } catch (outcome) {
      let refusal: RequestRefusal | undefined;
      for (const limit of ['requestsPerSecond', 'requests'] as const) {
        const result = (outcome as Record<string, unknown>)[this.limiters[limit].keyPrefix];
        if (result instanceof RateLimiterRes)
          refusal = {
            limit,
            wait: Math.max(1, Math.ceil(result.msBeforeNext / 1000)),
            reopensInMs: result.msBeforeNext,
          };
        else if (result !== undefined)
          this.log.warn(`Rate limit ${limit} could not be counted: ${String(result)}`);
      }
      return refusal;
    }
  }

  /**
   * Counts one for `key`; undefined while within the limit, else the seconds to wait. A store
   * failure with no fallback left lets the request through and is logged: a limit is protection,
   * not a reason to refuse every tenant.
   */
  async take(name: LimitName, key: string): Promise<number | undefined> {
    try {
      await this.limiters[name].consume(key);
      return undefined;
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) {
        const retryAfterS = Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
        if (name === 'authFailures') this.block(key, retryAfterS);
        return retryAfterS;
      }
      this.log.warn(`Rate limit ${name} could not be counted: ${String(outcome)}`);
      return undefined;
    }
  }

  /** Counts one for the account; past the limit, a 429 naming `what` (installs, agent runs). */
  async enforce(name: LimitName, accountId: string, what: string): Promise<void> {
    const wait = await this.take(name, accountId);
    if (wait)
      throw new RateLimitedError(
        wait,
        `This account started more than ${this.points[name]} ${what} in a minute; retry after ${wait} s.`,
      );
  }

  /** Seconds an address must still wait after too many failed authentications, if any. */
  blockedFor(address: string): number | undefined {
    const until = this.blocked.get(address);
    if (until === undefined) return undefined;
    const left = until - Date.now();
    if (left > 0) return Math.ceil(left / 1000);
    this.blocked.delete(address);
    return undefined;
  }

  limit(name: LimitName): number {
    return this.points[name];
  }

  async onApplicationShutdown(): Promise<void> {
    this.redis?.disconnect();
  }
}
