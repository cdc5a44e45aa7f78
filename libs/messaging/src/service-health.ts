import {
  type CommandDef,
  type Empty,
  HealthCheckResult,
  SERVICE_OF_OWNER,
  ServiceHealthReply,
} from '@athenic/contracts';
import { Controller, Inject, type Type } from '@nestjs/common';
import { Handle } from './handle.decorator';

/** One dependency a service reports on in its health reply. */
export interface HealthCheck {
  name: string;
  check(): Promise<Omit<HealthCheckResult, 'name'>>;
}

export const HEALTH_CHECKS = Symbol('HEALTH_CHECKS');

/**
 * The handler of a service's `<owner>.health.get` query: runs its checks in parallel and
 * answers even when one fails, so the gateway can say exactly what is down.
 */
export function ServiceHealthController(
  def: CommandDef<string, Empty, ServiceHealthReply>,
): Type<unknown> {
  @Controller()
  class HealthController {
    constructor(@Inject(HEALTH_CHECKS) private readonly checks: HealthCheck[]) {}

    @Handle(def)
    async health(): Promise<ServiceHealthReply> {
      const checks = await Promise.all(
        this.checks.map(async ({ name, check }) => {
          try {
            return { name, ...(await check()) };
          } catch (error) {
            return {
              name,
              status: 'error' as const,
              error: error instanceof Error ? error.message : String(error),
            };
          }
        }),
      );
      return {
        service: SERVICE_OF_OWNER[def.owner],
        status: checks.every((c) => c.status === 'ok') ? 'ok' : 'error',
        checks,
      };
    }
  }
  return HealthController;
}
