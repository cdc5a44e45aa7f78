import {
  AgentRunGet,
  AgentRunProgress,
  type RunProgressEvent,
  type RunView,
  type ToolCallView,
} from '@athenic/contracts';
import { BusClient, Handle } from '@athenic/messaging';
import {
  type BeforeApplicationShutdown,
  Controller,
  Inject,
  Injectable,
  Logger,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import {
  beginEventStream,
  sseFrame,
  StreamClient,
  type StreamLimits,
  streamLimitsOf,
} from './connection-streams';
import { StreamAdmission } from './stream-admission';

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
 * serves: each run's progress events reach every gateway process from the bus (its own queue);
 * each stream is its run's record first (as `agent.run.get` reads it) and the live steps after,
 * without a step twice or out of order. On each heartbeat the record is read again, so a progress
 * event the bus lost (they are not sent through an outbox) is made up for and a finished run
 * always ends its stream. Bounded like the connection stream (STREAM_MAX_PER_ACCOUNT,
 * STREAM_MAX_PER_PROCESS, STREAM_BUFFER_BYTES: each kind of stream counts its own), written
 * through the same StreamClient.
 */
@Injectable()
export class RunStreams implements BeforeApplicationShutdown {
  private readonly log = new Logger('RunStreams');
  private readonly limits: StreamLimits;
  private readonly admission: StreamAdmission;
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly clients = new Set<StreamClient>();

  constructor(
    private readonly bus: BusClient,
    @Inject(GATEWAY_CONFIG) config: GatewayConfig,
  ) {
    this.limits = streamLimitsOf(config);
    this.admission = new StreamAdmission(this.limits, 'run streams');
  }

  deliver(event: RunProgressEvent): void {
    for (const listener of this.listeners.get(event.run_id) ?? []) listener(event);
  }

  /**
   * Opens the stream of run `id` on `res`, or throws before anything is written: not_found for
   * another account's run, rate_limited past the stream caps, service_unavailable at shutdown.
   */
  async open(
    id: string,
    accountId: string | undefined,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    this.admission.checkProcess();
    // Listen before reading the record, so no step falls between the two.
    const early: RunProgressEvent[] = [];
    let live: Listener = (event) => early.push(event);
    const listener: Listener = (event) => live(event);
    this.listen(id, listener);
    let run: RunView;
    try {
      run = await this.read(id, accountId);
      this.admission.checkAccount(run.account_id);
    } catch (error) {
      this.unlisten(id, listener);
      throw error;
    }
    const owner = run.account_id;
    let position = positionOf(header(req, 'last-event-id'));
    beginEventStream(res);
    const heartbeat = setInterval(() => void resync(), this.limits.heartbeatMs);
    heartbeat.unref();
    const release = this.admission.take(owner);
    let forgotten = false;
    const forget = () => {
      if (forgotten) return;
      forgotten = true;
      client.dispose();
      clearInterval(heartbeat);
      this.unlisten(id, listener);
      this.clients.delete(client);
      release();
    };
    const client = new StreamClient(owner, res, this.limits.bufferBytes, forget);
    res.once('close', forget);
    this.clients.add(client);

    const frameOf = (call: ToolCallView, finished: boolean): string | undefined => {
      if (!isAfter(position, call, finished)) return undefined;
      position = { call: BigInt(call.id), finished };
      // A call's start reads as it did when it started, even when sent from the record later.
      return sseFrame(
        finished ? 'tool_call.finished' : 'tool_call.started',
        finished ? call : asStarted(call),
        `${call.id}.${finished ? 'f' : 's'}`,
      );
    };
    const send = (frame: string | undefined) => {
      if (frame) client.send(frame);
    };
    const finish = (status: string, output: string | null, error: string | null) => {
      client.end(sseFrame('run.finished', { status, output, error }, 'end'));
      forget();
    };
    const sendRecord = (view: RunView) => {
      for (const call of view.tool_calls) {
        if (call.state !== 'refused') send(frameOf(call, false));
        if (call.state !== 'running') send(frameOf(call, true));
      }
      if (view.status === 'completed' || view.status === 'failed')
        finish(view.status, view.output, view.error);
    };
    const apply = (event: RunProgressEvent) => {
      if (client.closed) return;
      if (event.type === 'run.finished')
        return finish(event.status ?? 'failed', event.output ?? null, event.error ?? null);
      if (!event.tool_call) return;
      // A step the stream has not reached yet in order (a lost event): the record fills it in.
      if (event.type === 'tool_call.finished' && event.tool_call.state !== 'refused')
        send(frameOf(event.tool_call, false));
      send(frameOf(event.tool_call, event.type === 'tool_call.finished'));
    };
    const resync = async () => {
      if (client.closed) return;
      client.send(sseFrame('heartbeat', { at: new Date().toISOString() }));
      try {
        const view = await this.read(id, accountId);
        if (!client.closed) sendRecord(view);
      } catch (error) {
        this.log.warn(
          `Run ${id}: its record could not be read for its stream: ${messageOf(error)}`,
        );
      }
    };

    client.release([sseFrame('run', { id: run.id, status: run.status, model: run.model })]);
    sendRecord(run);
    for (const event of early) apply(event);
    live = apply;
  }

  beforeApplicationShutdown(): void {
    this.admission.stop();
    const last = sseFrame('closed', {
      reason: 'shutdown',
      message: 'The gateway is shutting down; reconnect with Last-Event-ID to resume.',
    });
    for (const client of [...this.clients]) client.end(last);
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

/**
 * Every gateway process gets each run's progress on its own queue (each worker runs its own bus
 * server: docs/architecture.md), and hands it to its streams.
 */
@Controller()
export class RunProgressListener {
  constructor(private readonly streams: RunStreams) {}

  @Handle(AgentRunProgress, { everyReplica: true })
  progress(event: RunProgressEvent): void {
    this.streams.deliver(event);
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
