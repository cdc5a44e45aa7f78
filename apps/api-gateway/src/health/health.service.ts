import {
  AgentHealthGet,
  CredentialHealthGet,
  DomainError,
  RegistryHealthGet,
  SandboxHealthGet,
  SERVICE_OF_OWNER,
  type ServiceHealthReply,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Injectable } from '@nestjs/common';
import { PostgresProbe } from './postgres-probe';

export interface CheckResult {
  status: 'ok' | 'error';
  error?: string;
  /** What a service's checks found beyond "ok" (the sandbox service: the isolation in force). */
  detail?: string;
}

export interface PlatformHealth {
  status: 'ok' | 'error';
  checks: Record<string, CheckResult>;
}

const SERVICE_QUERIES = [RegistryHealthGet, CredentialHealthGet, SandboxHealthGet, AgentHealthGet];
const SERVICE_TIMEOUT_MS = 2000;
/** /health needs no key: its answer is shared for this long, so callers cannot fan out work. */
export const HEALTH_CACHE_MS = 2000;

@Injectable()
export class HealthService {
  constructor(
    private readonly bus: BusClient,
    private readonly postgres: PostgresProbe,
  ) {}

  private latest: { at: number; result: Promise<PlatformHealth> } | undefined;

  /**
   * The platform's health as of at most two seconds ago: however many callers ask, the
   * dependencies and services are asked once per period (concurrent callers share one check).
   */
  check(now = Date.now()): Promise<PlatformHealth> {
    if (!this.latest || now - this.latest.at >= HEALTH_CACHE_MS)
      this.latest = { at: now, result: this.checkNow() };
    return this.latest.result;
  }

  /** Every dependency and service, asked in parallel; each answer or failure is named. */
  private async checkNow(): Promise<PlatformHealth> {
    const [postgres, ...services] = await Promise.all([
      this.postgres.check(),
      ...SERVICE_QUERIES.map((query) => this.askService(query)),
    ]);
    const checks: Record<string, CheckResult> = {
      rabbitmq: this.bus.isConnected()
        ? { status: 'ok' }
        : { status: 'error', error: 'not connected to the broker' },
      postgres,
      'api-gateway': { status: 'ok' },
    };
    SERVICE_QUERIES.forEach((query, i) => (checks[SERVICE_OF_OWNER[query.owner]] = services[i]));
    const status = Object.values(checks).every((c) => c.status === 'ok') ? 'ok' : 'error';
    return { status, checks };
  }

  private async askService(query: (typeof SERVICE_QUERIES)[number]): Promise<CheckResult> {
    try {
      const reply: ServiceHealthReply = await this.bus.send(
        query,
        {},
        { timeoutMs: SERVICE_TIMEOUT_MS },
      );
      const details = reply.checks
        .filter((c) => c.detail)
        .map((c) => `${c.name}: ${c.detail}`)
        .join('; ');
      const detail = details ? { detail: details } : {};
      if (reply.status === 'ok') return { status: 'ok', ...detail };
      const failing = reply.checks
        .filter((c) => c.status !== 'ok')
        .map((c) => `${c.name}: ${c.error ?? 'failing'}`);
      return { status: 'error', error: failing.join('; ') || 'unhealthy', ...detail };
    } catch (error) {
      const service = SERVICE_OF_OWNER[query.owner];
      if (error instanceof DomainError && error.code === 'service_unavailable') {
        return {
          status: 'error',
          error: `${service} did not answer within ${SERVICE_TIMEOUT_MS} ms`,
        };
      }
      return { status: 'error', error: error instanceof Error ? error.message : String(error) };
    }
  }
}
