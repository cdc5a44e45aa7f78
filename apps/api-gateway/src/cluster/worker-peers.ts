import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import cluster from 'node:cluster';

/** Marks the gateway's own messages among a worker's IPC (rate-limiter-flexible has its own). */
const TAG = 'athenic:peers';

interface PeerMessage {
  [TAG]: string;
  args: unknown[];
}

function isPeerMessage(message: unknown): message is PeerMessage {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as Record<string, unknown>)[TAG] === 'string' &&
    Array.isArray((message as PeerMessage).args)
  );
}

/**
 * What one gateway worker learns that makes the others' state stale (a write through it, an event
 * the bus gave to it alone: the workers share the gateway's queue), told to every worker.
 * `shared(name, fn)` returns a function that runs `fn` here and, through the primary (node:cluster
 * IPC, see relayPeerMessages), in every other worker, a fraction of a millisecond later: the
 * message leaves before the answer that reported the change does. The primary relays it on the
 * same channel it hands connections on, so a worker that got it before a new connection applies
 * it first. In a gateway of one process it is `fn`. Arguments cross as JSON: undefined is null.
 */
@Injectable()
export class WorkerPeers implements OnModuleDestroy {
  private readonly handlers = new Map<string, (...args: unknown[]) => void>();
  private readonly onMessage = (message: unknown) => {
    if (!isPeerMessage(message)) return;
    this.handlers.get(message[TAG])?.(...message.args);
  };

  constructor() {
    if (cluster.isWorker) process.on('message', this.onMessage);
  }

  shared<A extends unknown[]>(name: string, fn: (...args: A) => void): (...args: A) => void {
    this.handlers.set(name, fn as unknown as (...args: unknown[]) => void);
    return (...args: A) => {
      fn(...args);
      if (cluster.isWorker && process.connected)
        // A primary gone is not this request's failure: the worker exits on disconnect anyway.
        process.send!({ [TAG]: name, args } satisfies PeerMessage, undefined, {}, () => undefined);
    };
  }

  onModuleDestroy(): void {
    process.off('message', this.onMessage);
  }
}

/** In the primary: every worker's peer message goes to every other worker. */
export function relayPeerMessages(): void {
  cluster.on('message', (from, message: unknown) => {
    if (!isPeerMessage(message)) return;
    for (const worker of Object.values(cluster.workers ?? {}))
      if (worker && worker !== from && worker.isConnected())
        worker.send(message, undefined, () => undefined);
  });
}
