import {
  AgentRunGet,
  AgentRunProgress,
  DomainError,
  type RunProgressEvent,
  type RunView,
  type ToolCallView,
} from '@athenic/contracts';
import { BusClient, Handle } from '@athenic/messaging';
import { Controller, Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WorkerPeers } from '../cluster/worker-peers';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { SseStream } from '../http/sse';

type Listener = (event: RunProgressEvent) => void;

/**
 * Where one stream is in a run: calls are sequential, so "call N started" or "call N finished"
 * says what was sent. Event ids are `<call id>.s`, `<call id>.f`, and `end`.
 */
interface Position {
  call: bigint;
  finished: boolean;
}

export function positionOf(eventId: string | undefined): Position | undefined {
  const match = /^([0-9]{1,19})\.([sf])$/.exec(eventId ?? '');
  return match ? { call: BigInt(match[1]), finished: match[2] === 'f' } : undefined;
}

/** Whether the event for `call` in `phase` comes after `position`. */
function isAfter(position: Position | undefined, call: ToolCallView, finished: boolean): boolean {
  if (!position) return true;
  const id = BigInt(call.id);
  if (id !== position.call) return id > position.call;
  return finished && !position.finished;
}

/**
 * The live streams of agent runs (`GET /functions/v1/agent-runs/:id/stream`) this gateway process
 * serves: each run's progress events reach every gateway replica from the bus (its own queue),
 * and every worker through WorkerPeers; each stream is its run's record first (as
 * `agent.run.get` reads it) and the live steps after, without a step twice or out of order.
 * On each heartbeat the record is read again, so a progress event the bus lost (they are not sent
 * through an outbox) is made up for and a finished run always ends its stream.
 */
@Injectable()
export class RunStreams implements OnModuleDestroy {
  private readonly log = new Logger('RunStreams');
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly perAccount = new Map<string, number>();
  private readonly streams = new Set<SseStream>();

  constructor(
    private readonly bus: BusClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  deliver(event: RunProgressEvent): void {
    for (const listener of this.listeners.get(event.run_id) ?? []) listener(event);
  }

  /**
   * Opens the stream of run `id` on `res`, or throws before anything is written: not_found for
   * another account's run, rate_limited past the stream caps.
   */
  async open(
    id: string,
    accountId: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const { STREAMS_PER_ACCOUNT, STREAMS_PER_PROCESS, STREAM_HEARTBEAT_MS } = this.config.env;
    if (this.streams.size >= STREAMS_PER_PROCESS)
      throw new DomainError(
        'rate_limited',
        `This gateway holds ${this.streams.size} streams, the most it may (STREAMS_PER_PROCESS); retry shortly.`,
      );
    // Listen before reading the record, so no step falls between the two.
    const early: RunProgressEvent[] = [];
    let live: Listener = (event) => early.push(event);
    const listener: Listener = (event) => live(event);
    this.listen(id, listener);
    let run: RunView;
    try {
      run = await this.read(id, accountId);
      if ((this.perAccount.get(run.account_id) ?? 0) >= STREAMS_PER_ACCOUNT)
        throw new DomainError(
          'rate_limited',
          `This account holds ${STREAMS_PER_ACCOUNT} streams open, the most it may (STREAMS_PER_ACCOUNT); close one first.`,
        );
    } catch (error) {
      this.unlisten(id, listener);
      throw error;
    }
    const owner = run.account_id;
    let position = positionOf(header(req, 'last-event-id'));
    this.perAccount.set(owner, (this.perAccount.get(owner) ?? 0) + 1);
    const heartbeat = setInterval(() => void resync(), STREAM_HEARTBEAT_MS);
    heartbeat.unref();
    const stream = new SseStream(res, () => {
      clearInterval(heartbeat);
      this.unlisten(id, listener);
      this.streams.delete(stream);
      const left = (this.perAccount.get(owner) ?? 1) - 1;
      if (left > 0) this.perAccount.set(owner, left);
      else this.perAccount.delete(owner);
    });
    this.streams.add(stream);

    const sendCall = (call: ToolCallView, finished: boolean) => {
      if (!isAfter(position, call, finished)) return;
      // A call's start reads as it did when it started, even when sent from the record later.
      stream.send(
        finished ? 'tool_call.finished' : 'tool_call.started',
        finished ? call : asStarted(call),
        `${call.id}.${finished ? 'f' : 's'}`,
      );
      position = { call: BigInt(call.id), finished };
    };
    const finish = (status: string, output: string | null, error: string | null) => {
      stream.send('run.finished', { status, output, error }, 'end');
      stream.end();
    };
    const sendRecord = (view: RunView) => {
      for (const call of view.tool_calls) {
        if (call.state !== 'refused') sendCall(call, false);
        if (call.state !== 'running') sendCall(call, true);
      }
      if (view.status === 'completed' || view.status === 'failed')
        finish(view.status, view.output, view.error);
    };
    const apply = (event: RunProgressEvent) => {
      if (stream.closed) return;
      if (event.type === 'run.finished')
        return finish(event.status ?? 'failed', event.output ?? null, event.error ?? null);
      if (!event.tool_call) return;
      // A step the stream has not reached yet in order (a lost event): the record fills it in.
      if (event.type === 'tool_call.finished' && event.tool_call.state !== 'refused')
        sendCall(event.tool_call, false);
      sendCall(event.tool_call, event.type === 'tool_call.finished');
    };
    const resync = async () => {
      if (stream.closed) return;
      stream.comment('heartbeat');
      try {
        const view = await this.read(id, accountId);
        if (!stream.closed) sendRecord(view);
      } catch (error) {
        this.log.warn(
          `Run ${id}: its record could not be read for its stream: ${messageOf(error)}`,
        );
      }
    };

    stream.send('run', { id: run.id, status: run.status, model: run.model }, undefined);
    sendRecord(run);
    for (const event of early) apply(event);
    live = apply;
  }

  onModuleDestroy(): void {
    for (const stream of [...this.streams]) stream.end();
  }

  private read(id: string, accountId: string | undefined): Promise<RunView> {
    return this.bus.send(AgentRunGet, { id, account_id: accountId });
  }

  private listen(id: string, listener: Listener): void {
    const set = this.listeners.get(id) ?? new Set<Listener>();
    set.add(listener);
    this.listeners.set(id, set);
  }

  private unlisten(id: string, listener: Listener): void {
    const set = this.listeners.get(id);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) this.listeners.delete(id);
  }
}

/** Every gateway replica gets each run's progress (its own queue), and tells all its workers. */
@Controller()
export class RunProgressListener {
  private readonly deliver: (event: RunProgressEvent) => void;

  constructor(streams: RunStreams, peers: WorkerPeers) {
    this.deliver = peers.shared('runs.progress', (event: RunProgressEvent) =>
      streams.deliver(event),
    );
  }

  @Handle(AgentRunProgress, { everyReplica: true })
  progress(event: RunProgressEvent): void {
    this.deliver(event);
  }
}

function asStarted(call: ToolCallView): ToolCallView {
  return { ...call, state: 'running', result: null, is_error: false, duration_ms: null };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
