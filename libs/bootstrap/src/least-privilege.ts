import { type Owner, SERVICE_OF_OWNER } from '@athenic/contracts';
import { type DatabaseRole, provisionDatabaseRoles } from '@athenic/database';
import { type BrokerAdmin, type BrokerUser, provisionBrokerUsers } from '@athenic/messaging';
import { randomBytes } from 'node:crypto';

/** Each service's schema (none for the gateway, which only checks the database answers). */
export const SCHEMA_OF_OWNER: Readonly<Record<Owner, string | undefined>> = {
  gateway: undefined,
  registry: 'registry',
  credential: 'credential',
  sandbox: 'sandbox',
  agent: 'agent',
};

const OWNERS = Object.keys(SERVICE_OF_OWNER) as Owner[];

/** The passwords of the platform's own principals, kept between starts. */
export type PrincipalPasswords = Record<string, string>;

export interface LeastPrivilegeOptions {
  /** The administrator's addresses (a superuser, the broker's administrator). */
  adminDatabaseUrl: string;
  adminAmqpUrl: string;
  broker: BrokerAdmin;
  /** Prefix of role and user names (several platforms, or tests, on one server). */
  prefix?: string;
  /** Passwords from an earlier start; missing ones are generated (and returned). */
  passwords?: PrincipalPasswords;
}

export interface LeastPrivilegeResult {
  /** What each service connects with: its own DATABASE_URL and AMQP_URL. */
  serviceEnv: Record<string, { DATABASE_URL: string; AMQP_URL: string }>;
  /** The AMQP address other internal services use (the `integrations` user). */
  integrationsAmqpUrl: string;
  passwords: PrincipalPasswords;
  /** One line per thing done, for the operator. */
  report: string[];
}

/**
 * Provisions the platform's principals (docs/security/least-privilege.md): a Postgres role per
 * service owning only its schema, a RabbitMQ user per service allowed exactly its queues and
 * routing keys, and an `integrations` user for other internal services. Idempotent.
 */
export async function provisionLeastPrivilege(
  options: LeastPrivilegeOptions,
): Promise<LeastPrivilegeResult> {
  const prefix = options.prefix ?? 'athenic';
  const passwords: PrincipalPasswords = { ...options.passwords };
  const password = (name: string) => (passwords[name] ??= randomBytes(24).toString('base64url'));

  const roles: DatabaseRole[] = OWNERS.map((owner) => ({
    role: `${prefix}_${owner}`,
    password: password(`postgres:${prefix}_${owner}`),
    schema: SCHEMA_OF_OWNER[owner],
  }));
  const report = await provisionDatabaseRoles(options.adminDatabaseUrl, roles);

  const amqp = new URL(options.adminAmqpUrl);
  const vhost = decodeURIComponent(amqp.pathname.slice(1)) || '/';
  const users: BrokerUser[] = [...OWNERS, 'integrations' as const].map((principal) => ({
    principal,
    user: `${prefix}-${principal}`,
    password: password(`rabbitmq:${prefix}-${principal}`),
  }));
  report.push(...(await provisionBrokerUsers(options.broker, vhost, users)));

  const withUser = (url: string, user: string, pass: string) => {
    const u = new URL(url);
    u.username = encodeURIComponent(user);
    u.password = encodeURIComponent(pass);
    return u.toString();
  };
  const serviceEnv: LeastPrivilegeResult['serviceEnv'] = {};
  for (const owner of OWNERS) {
    const role = roles.find((r) => r.role === `${prefix}_${owner}`)!;
    const user = users.find((u) => u.principal === owner)!;
    serviceEnv[SERVICE_OF_OWNER[owner]] = {
      DATABASE_URL: withUser(options.adminDatabaseUrl, role.role, role.password),
      AMQP_URL: withUser(options.adminAmqpUrl, user.user, user.password),
    };
  }
  const integrations = users.find((u) => u.principal === 'integrations')!;
  return {
    serviceEnv,
    integrationsAmqpUrl: withUser(options.adminAmqpUrl, integrations.user, integrations.password),
    passwords,
    report,
  };
}
