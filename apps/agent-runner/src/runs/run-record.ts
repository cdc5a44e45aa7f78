import type { ToolCallOutcome, ToolCallStart } from '@athenic/client';
import {
  AgentRunProgress,
  type RunProgressEvent,
  type RunStatus,
  type ToolCallView,
} from '@athenic/contracts';
import type { BusClient } from '@athenic/messaging';
import type { SecretMasker } from '@athenic/platform-crypto';
import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { ToolCallEntity } from './tool-call.entity';

/** A tool call row as the API shows it: the one mapping, for the run's view and its stream. */
export function toolCallView(call: ToolCallEntity): ToolCallView {
  return {
    id: String(call.id),
    state: call.state,
    connection_id: call.connectionId,
    tool: call.tool,
    arguments: call.arguments,
    result: call.result ?? null,
    is_error: call.isError,
    duration_ms: call.durationMs ?? null,
    started_at: call.startedAt.toISOString(),
  };
}

/**
 * What one run did, as it does it: each tool call written when it starts and completed when it
 * ends (secrets masked), a refused call kept as such, and each step told on the bus
 * (`agent.run.progress`) for the run's live stream. The record is the truth; a progress event
 * that cannot be published is logged and the run goes on (a stream reader finds the step in the
 * record).
 */
export class RunRecord {
  private readonly log = new Logger('RunRecord');
  /** Tool calls so far. */
  calls = 0;

  constructor(
    private readonly dataSource: DataSource,
    private readonly bus: BusClient,
    private readonly run: { id: string; accountId: string },
    /** The masker of the connection behind a server name, and the run's whole masker. */
    private readonly maskers: { of(server: string): SecretMasker; all(): SecretMasker },
    private readonly connectionOf: (server: string) => string,
  ) {}

  /** A call starts: written as `running`; returns what completes it. */
  async started(call: ToolCallStart): Promise<(outcome: ToolCallOutcome) => Promise<void>> {
    const masker = this.maskers.of(call.server);
    const row = await this.insert({
      state: 'running',
      connectionId: this.connectionOf(call.server),
      tool: call.tool,
      arguments: maskJson(call.arguments, masker),
      result: null,
      isError: false,
      durationMs: null,
      finishedAt: null,
    });
    await this.tell('tool_call.started', row);
    return async (outcome) => {
      row.state = 'finished';
      row.result = maskJson(outcome.result, masker);
      row.isError = outcome.isError;
      row.durationMs = outcome.durationMs;
      row.finishedAt = new Date();
      await this.dataSource.getRepository(ToolCallEntity).update(
        { id: row.id },
        {
          state: row.state,
          result: row.result as object,
          isError: row.isError,
          durationMs: row.durationMs,
          finishedAt: row.finishedAt,
        },
      );
      await this.tell('tool_call.finished', row);
    };
  }

  /** The model asked for a tool the run does not have: kept as `refused`. */
  async refused(tool: string, input: unknown): Promise<void> {
    const masker = this.maskers.all();
    const row = await this.insert({
      state: 'refused',
      connectionId: null,
      tool: masker.mask(tool),
      arguments: maskJson(input, masker),
      result: null,
      isError: true,
      durationMs: 0,
      finishedAt: new Date(),
    });
    await this.tell('tool_call.finished', row);
  }

  /** The run ended (already stored): its end told to the stream. */
  async finished(status: RunStatus, output: string | null, error: string | null): Promise<void> {
    await this.publish({
      run_id: this.run.id,
      account_id: this.run.accountId,
      type: 'run.finished',
      status,
      output,
      error,
    });
  }

  private async insert(
    fields: Omit<ToolCallEntity, 'id' | 'runId' | 'startedAt'>,
  ): Promise<ToolCallEntity> {
    this.calls++;
    const repository = this.dataSource.getRepository(ToolCallEntity);
    const row = repository.create({ ...fields, runId: this.run.id, startedAt: new Date() });
    await repository.insert(row);
    return row;
  }

  private async tell(type: 'tool_call.started' | 'tool_call.finished', row: ToolCallEntity) {
    await this.publish({
      run_id: this.run.id,
      account_id: this.run.accountId,
      type,
      tool_call: toolCallView(row),
    });
  }

  private async publish(event: RunProgressEvent): Promise<void> {
    try {
      await this.bus.emit(AgentRunProgress, event);
    } catch (error) {
      this.log.warn(
        `Run ${this.run.id}: progress ${event.type} not published (${error instanceof Error ? error.message : String(error)}); it is in the run's record`,
      );
    }
  }
}

/** Every string inside a value, masked (keys included). */
export function maskJson(value: unknown, masker: SecretMasker): unknown {
  if (typeof value === 'string') return masker.mask(value);
  if (Array.isArray(value)) return value.map((v) => maskJson(v, masker));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [masker.mask(k), maskJson(v, masker)]),
    );
  }
  return value ?? null;
}
