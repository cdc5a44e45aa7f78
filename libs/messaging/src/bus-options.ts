import type { QueueType } from './topology';
import type { Owner } from '@athenic/contracts';

export interface BusOptions {
  /** amqp:// URL, vhost included. */
  url: string;
  /** The owner this process serves: its queue, and the messages it may handle and emit. */
  owner: Owner;
  /** Messages in flight per service; long work is never held unacked, so this stays small. */
  prefetch?: number;
  /** Deadline of every request; the message expires with it. */
  requestTimeoutMs?: number;
  /** The type of the service's queue (BUS_QUEUE_TYPE; docs/adr/0009-quorum-queues.md). */
  queueType?: QueueType;
}

export const DEFAULT_PREFETCH = 20;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** Delay before work that failed for a passing reason (a database restart) is tried again. */
export const RETRY_DELAY_MS = 3000;
/** Attempts before such work is dead-lettered. */
export const MAX_ATTEMPTS = 5;

/** Every AMQP socket disables Nagle: without it a request/reply costs ~44 ms on loopback. */
export const SOCKET_OPTIONS = {
  connectionOptions: { noDelay: true },
  heartbeatIntervalInSeconds: 10,
  reconnectTimeInSeconds: 1,
};

/** The broker address without credentials, for error messages and logs. */
export function describeBrokerUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname && parsed.pathname !== '/' ? parsed.pathname : ''}`;
  } catch {
    return 'an unparseable AMQP_URL';
  }
}
