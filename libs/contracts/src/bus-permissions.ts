import type { Owner } from './message';
import { SERVICE_OF_OWNER } from './message';

/**
 * Who may say what on the bus: the commands each service sends (besides its own events), and the
 * commands other internal services (the `integrations` principal) may send. It is the source of
 * the broker's own permissions (RabbitMQ topic authorization, provisioned by
 * scripts/provision.ts), and BusClient refuses to send a command its service is not listed for,
 * so this table cannot drift from the code. Commands that grant authority
 * (`credential.api-key.create`, `credential.credential-set.store`/`delete`) are each sent by one
 * service only; `reveal` by the two that need a connection's secrets (the sandbox service to
 * deploy, the agent runner to mask them), and it also requires a proof keyed from INTERNAL_SECRET. See docs/security/least-privilege.md.
 */
export const COMMANDS_SENT_BY: Readonly<Record<Owner, readonly string[]>> = {
  gateway: [
    'agent.health.get',
    'agent.run.get',
    'agent.run.list',
    'agent.run.start',
    'credential.api-key.create',
    'credential.api-key.list',
    'credential.api-key.revoke',
    'credential.api-key.verify',
    'credential.health.get',
    'credential.keys.get',
    'credential.keys.retire',
    'credential.keys.rotate',
    'credential.public-key.get',
    'registry.health.get',
    'registry.server.create',
    'registry.server.delete',
    'registry.server.get',
    'registry.server.import',
    'registry.server.list',
    'registry.server.update',
    'sandbox.account-health.get',
    'sandbox.connection-event.list',
    'sandbox.connection-log.list',
    'sandbox.connection-route.get',
    'sandbox.connection.delete',
    'sandbox.connection.get',
    'sandbox.connection.install',
    'sandbox.connection.list',
    'sandbox.connection.replace-credentials',
    'sandbox.connection.start',
    'sandbox.connection.stop',
    'sandbox.connection.touch',
    'sandbox.health.get',
  ],
  registry: [],
  credential: ['registry.server.get'],
  sandbox: [
    'credential.credential-set.delete',
    'credential.credential-set.reveal',
    'credential.credential-set.store',
    'registry.server.get',
  ],
  // Reveal: to mask the connections' secrets in what it stores of a run.
  agent: ['credential.credential-set.reveal', 'sandbox.connection.get', 'sandbox.connection.list'],
};

/** The documented commands another internal service may send (docs/asyncapi.json). */
export const INTEGRATION_COMMANDS: readonly string[] = [
  'agent.run.get',
  'agent.run.list',
  'agent.run.start',
  'credential.public-key.get',
  'registry.server.get',
  'registry.server.list',
  'sandbox.connection-event.list',
  'sandbox.connection.delete',
  'sandbox.connection.get',
  'sandbox.connection.install',
  'sandbox.connection.list',
  'sandbox.connection.replace-credentials',
  'sandbox.connection.start',
  'sandbox.connection.stop',
];

/** Whether `owner`'s BusClient may send the command `name`. */
export function maySend(owner: Owner, name: string): boolean {
  return COMMANDS_SENT_BY[owner].includes(name);
}

/** The queue each service consumes (and its retry queue, `<queue>.retry`). */
export function queueOf(owner: Owner): string {
  return SERVICE_OF_OWNER[owner];
}
