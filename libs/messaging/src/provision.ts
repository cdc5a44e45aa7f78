import {
  ALL_MESSAGES,
  COMMANDS_SENT_BY,
  INTEGRATION_COMMANDS,
  type Owner,
  SERVICE_OF_OWNER,
} from '@athenic/contracts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  BUS_EXCHANGE,
  DEAD_LETTER_EXCHANGE,
  DEAD_LETTER_QUEUE,
  replicaQueuePattern,
  retryQueueName,
} from './topology';

/** A principal of the bus: a service, or `integrations` (other internal services). */
export type BusPrincipal = Owner | 'integrations';

export interface BrokerUser {
  principal: BusPrincipal;
  user: string;
  password: string;
}

/** What RabbitMQ lets one user do in the platform's vhost (its resource and topic permissions). */
export interface BrokerPermissions {
  configure: string;
  write: string;
  read: string;
  /** Routing keys the user may publish to, and bind from, on each topic exchange. */
  topics: { exchange: string; write: string; read: string }[];
}

const escape = (name: string) => name.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
const anyOf = (names: readonly string[]) =>
  names.length ? `^(${names.map(escape).join('|')})$` : '^$';

/**
 * The permissions that follow from libs/contracts/src/bus-permissions.ts: a service declares and
 * reads only its own queues, publishes on the bus only its own events and the commands it is
 * listed for (RabbitMQ's topic authorization checks the routing key of every publish), and
 * answers requests through the default exchange. `integrations` may publish the documented
 * commands and bind queues of its own (`integrations.*`) to events only.
 */
export function brokerPermissions(principal: BusPrincipal): BrokerPermissions {
  const events = ALL_MESSAGES.filter((m) => m.kind === 'event');
  if (principal === 'integrations') {
    const own = 'integrations\\..*';
    return {
      configure: `^${own}$`,
      write: `^(${escape(BUS_EXCHANGE)}|amq\\.default|${own})$`,
      read: `^(${escape(BUS_EXCHANGE)}|${own})$`,
      topics: [
        {
          exchange: BUS_EXCHANGE,
          write: anyOf(INTEGRATION_COMMANDS),
          read: anyOf(events.map((e) => e.name)),
        },
      ],
    };
  }
  const queue = SERVICE_OF_OWNER[principal];
  const shared = [
    BUS_EXCHANGE,
    DEAD_LETTER_EXCHANGE,
    DEAD_LETTER_QUEUE,
    queue,
    retryQueueName(queue),
  ];
  const publishes = [
    ...events.filter((e) => e.owner === principal).map((e) => e.name),
    ...COMMANDS_SENT_BY[principal],
  ];
  // Its processes' own queues for events every replica sees (handlers marked everyReplica).
  const withReplicaQueues = (pattern: string) =>
    pattern.replace(/\)\$$/, `|${replicaQueuePattern(queue)})$`);
  return {
    configure: withReplicaQueues(anyOf(shared)),
    write: withReplicaQueues(anyOf([...shared, 'amq.default'])),
    read: withReplicaQueues(anyOf(shared)),
    topics: [
      { exchange: BUS_EXCHANGE, write: anyOf(publishes), read: '.*' },
      // Dead letters keep the routing key they had.
      { exchange: DEAD_LETTER_EXCHANGE, write: '.*', read: '.*' },
    ],
  };
}

/** How users and permissions are set: RabbitMQ's management API, else `rabbitmqctl`. */
export interface BrokerAdmin {
  putUser(user: string, password: string): Promise<void>;
  setPermissions(vhost: string, user: string, permissions: BrokerPermissions): Promise<void>;
  deleteUser(user: string): Promise<void>;
  /** A virtual host (the test infrastructure gives each test file its own). */
  addVhost(vhost: string): Promise<void>;
  /** Gone already is fine. */
  deleteVhost(vhost: string): Promise<void>;
}

/** Everything on a vhost, for its administrator (tests, and the quick mode's `guest`). */
export const ALL_PERMISSIONS: BrokerPermissions = {
  configure: '.*',
  write: '.*',
  read: '.*',
  topics: [],
};

/** The management HTTP API (`RABBITMQ_MANAGEMENT_URL`, the administrator's credentials). */
export function managementApi(baseUrl: string, user: string, password: string): BrokerAdmin {
  const auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${baseUrl.replace(/\/+$/, '')}/api${path}`, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok && !(method === 'DELETE' && res.status === 404))
      throw new Error(`RabbitMQ management API ${method} ${path}: ${res.status}`);
  };
  const enc = encodeURIComponent;
  return {
    putUser: (name, pass) => call('PUT', `/users/${enc(name)}`, { password: pass, tags: '' }),
    async setPermissions(vhost, name, p) {
      await call('PUT', `/permissions/${enc(vhost)}/${enc(name)}`, {
        configure: p.configure,
        write: p.write,
        read: p.read,
      });
      for (const t of p.topics)
        await call('PUT', `/topic-permissions/${enc(vhost)}/${enc(name)}`, t);
    },
    deleteUser: (name) => call('DELETE', `/users/${enc(name)}`),
    addVhost: (vhost) => call('PUT', `/vhosts/${enc(vhost)}`),
    deleteVhost: (vhost) => call('DELETE', `/vhosts/${enc(vhost)}`),
  };
}

/** `rabbitmqctl` on this machine (a local broker without the management plugin). */
export function rabbitmqctl(): BrokerAdmin {
  const run = promisify(execFile);
  const ctl = (args: string[]) => run('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
  // A password goes on stdin, never on a command line another user could read.
  const withPassword = (args: string[], password: string) =>
    new Promise<void>((resolve, reject) => {
      const child = execFile('rabbitmqctl', ['-q', ...args], { timeout: 30_000 });
      child.stdin!.end(`${password}\n`);
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`rabbitmqctl ${args[0]} exited ${code}`)),
      );
    });
  return {
    async putUser(name, pass) {
      const exists = await ctl(['list_users']).then((r) =>
        r.stdout.split('\n').some((line) => line.split('\t')[0] === name),
      );
      await withPassword([exists ? 'change_password' : 'add_user', name], pass);
    },
    async setPermissions(vhost, name, p) {
      await ctl(['set_permissions', '-p', vhost, name, p.configure, p.write, p.read]);
      for (const t of p.topics)
        await ctl(['set_topic_permissions', '-p', vhost, name, t.exchange, t.write, t.read]);
    },
    async deleteUser(name) {
      await ctl(['delete_user', name]).catch(() => undefined);
    },
    async addVhost(vhost) {
      await ctl(['add_vhost', vhost]);
    },
    async deleteVhost(vhost) {
      await ctl(['delete_vhost', vhost]).catch(() => undefined);
    },
  };
}

/** Creates (or updates) each user with exactly its permissions; one line per user, for the operator. */
export async function provisionBrokerUsers(
  admin: BrokerAdmin,
  vhost: string,
  users: readonly BrokerUser[],
): Promise<string[]> {
  const done: string[] = [];
  for (const { principal, user, password } of users) {
    await admin.putUser(user, password);
    const permissions = brokerPermissions(principal);
    await admin.setPermissions(vhost, user, permissions);
    const sends =
      principal === 'integrations'
        ? INTEGRATION_COMMANDS.length
        : COMMANDS_SENT_BY[principal].length;
    done.push(
      `rabbitmq: user ${user} (${principal}) in vhost ${vhost}: its own queues, ${sends} command(s) it may send, its own events`,
    );
  }
  return done;
}

/**
 * The broker's management API when it answers (the administrator's credentials from `amqpUrl`),
 * else `rabbitmqctl` on this machine.
 */
export async function brokerAdminFor(
  amqpUrl: string,
  managementUrl = 'http://127.0.0.1:15672',
): Promise<BrokerAdmin> {
  const url = new URL(amqpUrl);
  const user = decodeURIComponent(url.username || 'guest');
  const password = decodeURIComponent(url.password || 'guest');
  const answers = await fetch(`${managementUrl.replace(/\/+$/, '')}/api/overview`, {
    headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` },
    signal: AbortSignal.timeout(3000),
  }).then(
    (res) => res.ok,
    () => false,
  );
  return answers ? managementApi(managementUrl, user, password) : rabbitmqctl();
}
