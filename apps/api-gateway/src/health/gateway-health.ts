import type { HealthCheck } from '@athenic/messaging';
import type { PostgresProbe } from './postgres-probe';

/** What the gateway reports when another service asks it over the bus. */
export function gatewayHealthChecks(postgres: PostgresProbe): HealthCheck[] {
  return [{ name: 'postgres', check: () => postgres.check() }];
}
