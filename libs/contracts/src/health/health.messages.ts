import { Type } from 'class-transformer';
import { IsArray, IsIn, IsOptional, IsString, ValidateNested } from 'class-validator';
import { defineCommand } from '../message';
import { Empty } from '../shared/empty.dto';

export class HealthCheckResult {
  /** What was checked, for example `postgres`. */
  @IsString()
  name: string;

  @IsIn(['ok', 'error'])
  status: 'ok' | 'error';

  @IsOptional()
  @IsString()
  error?: string;

  /** What a check found, when that says more than "ok" (the sandbox isolation in force). */
  @IsOptional()
  @IsString()
  detail?: string;
}

export class ServiceHealthReply {
  @IsString()
  service: string;

  @IsIn(['ok', 'error'])
  status: 'ok' | 'error';

  /** One entry per dependency the service checked. */
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => HealthCheckResult)
  checks: HealthCheckResult[];
}

const summary = (service: string) =>
  `Asks the ${service} whether it and its own dependencies are healthy. Replies even when a dependency is down.`;

export const GatewayHealthGet = defineCommand({
  name: 'gateway.health.get',
  payload: Empty,
  reply: ServiceHealthReply,
  summary: summary('api-gateway'),
});
export const RegistryHealthGet = defineCommand({
  name: 'registry.health.get',
  payload: Empty,
  reply: ServiceHealthReply,
  summary: summary('registry-service'),
});
export const CredentialHealthGet = defineCommand({
  name: 'credential.health.get',
  payload: Empty,
  reply: ServiceHealthReply,
  summary: summary('credential-service'),
});
export const SandboxHealthGet = defineCommand({
  name: 'sandbox.health.get',
  payload: Empty,
  reply: ServiceHealthReply,
  summary: summary('sandbox-service'),
});
export const AgentHealthGet = defineCommand({
  name: 'agent.health.get',
  payload: Empty,
  reply: ServiceHealthReply,
  summary: summary('agent-runner'),
});
