import type { Channel } from 'amqplib';

/**
 * The bus: one durable topic exchange every message goes through, one durable queue per
 * service bound once per handled name, a dead-letter exchange and queue for what cannot be
 * processed, and one delay queue per service for retrying work that failed for a passing reason.
 * See docs/adr/0002-bus-topology.md.
 */
export const BUS_EXCHANGE = 'bus';
export const DEAD_LETTER_EXCHANGE = 'bus.dead-letter';
export const DEAD_LETTER_QUEUE = 'bus.dead-letter';

export const HEADERS = {
  correlationId: 'x-correlation-id',
  /** How long the sender of a command waits for its reply, in ms (libs/messaging/src/deadline.ts). */
  timeoutMs: 'x-timeout-ms',
  /** Why a message was dead-lettered, one sentence. */
  deadLetterReason: 'x-dead-letter-reason',
  /** The service that dead-lettered it. */
  deadLetterService: 'x-dead-letter-service',
  /** The routing key it was first published with (kept across retries). */
  originalRoutingKey: 'x-original-routing-key',
  /** How many times processing was attempted. */
  attempts: 'x-attempts',
} as const;

/**
 * The type of the services' queues (BUS_QUEUE_TYPE): `classic` on one broker node, `quorum` on a
 * cluster (replicated, and a message redelivered more than QUORUM_DELIVERY_LIMIT times, such as
 * one whose handling keeps killing its consumer, is dead-lettered instead of looping).
 * docs/adr/0009-quorum-queues.md.
 */
export type QueueType = 'classic' | 'quorum';
export const QUEUE_TYPES: readonly QueueType[] = ['classic', 'quorum'];
export const QUORUM_DELIVERY_LIMIT = 10;

/** Queue arguments are fixed at first declaration; changing them needs a new queue name. */
export function serviceQueueArguments(type: QueueType = 'classic'): Record<string, unknown> {
  const base = { 'x-dead-letter-exchange': DEAD_LETTER_EXCHANGE };
  return type === 'quorum'
    ? { ...base, 'x-queue-type': 'quorum', 'x-delivery-limit': QUORUM_DELIVERY_LIMIT }
    : base;
}

/**
 * The queue of one process of a service for events every replica must see (handlers marked
 * `everyReplica`): exclusive, deleted with its connection, named `<service>.replica.<hex>`.
 */
export function replicaQueueName(queue: string, suffix: string): string {
  return `${queue}.replica.${suffix}`;
}

/** The pattern of those names, for the service's broker permissions. */
export function replicaQueuePattern(queue: string): string {
  return `${queue.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}\\.replica\\.[0-9a-f]+`;
}

export function retryQueueName(queue: string): string {
  return `${queue}.retry`;
}

const DEAD_LETTER_RETENTION_MS = 7 * 24 * 3600 * 1000;

export async function assertTopology(
  channel: Channel,
  queue: string,
  retryDelayMs: number,
): Promise<void> {
  await channel.assertExchange(BUS_EXCHANGE, 'topic', { durable: true });
  await channel.assertExchange(DEAD_LETTER_EXCHANGE, 'topic', { durable: true });
  await channel.assertQueue(DEAD_LETTER_QUEUE, {
    durable: true,
    arguments: { 'x-message-ttl': DEAD_LETTER_RETENTION_MS, 'x-max-length': 100_000 },
  });
  await channel.bindQueue(DEAD_LETTER_QUEUE, DEAD_LETTER_EXCHANGE, '#');
  // Messages wait here for the delay, then go back to the service's own queue only.
  await channel.assertQueue(retryQueueName(queue), {
    durable: true,
    arguments: {
      'x-message-ttl': retryDelayMs,
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': queue,
    },
  });
}
