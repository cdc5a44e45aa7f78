import * as agent from './agent/agent.messages';
import * as credential from './credential/credential.messages';
import * as health from './health/health.messages';
import type { MessageDef } from './message';
import * as registry from './registry/registry.messages';
import * as sandbox from './sandbox/sandbox.messages';

function definitions(module: Record<string, unknown>): MessageDef[] {
  return Object.values(module).filter(
    (value): value is MessageDef =>
      typeof value === 'object' && value !== null && 'kind' in value && 'name' in value,
  );
}

/** Every message of the bus. The AsyncAPI document is generated from this list. */
export const ALL_MESSAGES: readonly MessageDef[] = [
  ...definitions(health),
  ...definitions(registry),
  ...definitions(credential),
  ...definitions(sandbox),
  ...definitions(agent),
];
