import {
  DomainError,
  type RunAccepted,
  type RunList,
  type RunView,
  SandboxConnectionGet,
  type StartRunCommand,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DataSource, In } from 'typeorm';
import { AGENT_CONFIG, type AgentConfig } from '../config/env';
import { Models } from '../models/models';
import { RunExecutor } from './run-executor';
import { toolCallView } from './run-record';
import { RunEntity } from './run.entity';
import { ToolCallEntity } from './tool-call.entity';

/**
 * Agent runs: accepted (and persisted) at once, then executed in the background; their state is
 * read back at any time.
 */
@Injectable()
export class RunsService implements OnApplicationShutdown {
  private readonly log = new Logger('Runs');
  private readonly active = new Set<Promise<void>>();

  constructor(
    private readonly dataSource: DataSource,
    private readonly models: Models,
    private readonly executor: RunExecutor,
    private readonly bus: BusClient,
    @Inject(AGENT_CONFIG) private readonly config: AgentConfig,
  ) {}

  async start(command: StartRunCommand): Promise<RunAccepted> {
    const model = this.models.resolve(command.model);
    if (command.messages[command.messages.length - 1].role !== 'user') {
      throw new DomainError('validation_failed', "The last message must be the user's.");
    }
    // Every named connection must be the account's (another account's is not found, exactly
    // as one that does not exist); whether it runs is checked when the run starts.
    for (const id of new Set(command.connection_ids ?? [])) {
      await this.bus.send(SandboxConnectionGet, { id, account_id: command.account_id });
    }
    const run = this.dataSource.getRepository(RunEntity).create({
      id: randomUUID(),
      accountId: command.account_id,
      status: 'queued',
      messages: command.messages.map((m) => ({ role: m.role, content: m.content })),
      connectionIds: command.connection_ids ?? null,
      tools: command.tools ?? null,
      model,
      output: null,
      error: null,
      startedAt: null,
      finishedAt: null,
    });
    await this.dataSource.transaction(async (manager) => {
      // One start of an account at a time past this point: the count holds across replicas.
      await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
        `runs:${command.account_id}`,
      ]);
      const limit = this.config.env.MAX_CONCURRENT_RUNS_PER_ACCOUNT;
      const unfinished = await manager.countBy(RunEntity, {
        accountId: command.account_id,
        status: In(['queued', 'running']),
      });
      if (unfinished >= limit)
        throw new DomainError(
          'quota_exceeded',
          `This account has ${unfinished} agent runs unfinished, the most it may have at once (MAX_CONCURRENT_RUNS_PER_ACCOUNT=${limit}); wait for one to finish.`,
        );
      await manager.insert(RunEntity, run);
    });
    this.launch(run);
    return { id: run.id, status: 'queued' };
  }

  private launch(run: RunEntity): void {
    const work = this.executor.execute(run).finally(() => this.active.delete(work));
    this.active.add(work);
  }

  async list(accountId: string, limit: number): Promise<RunList> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      throw new DomainError('validation_failed', 'limit must be an integer from 1 to 100.');
    const runs = await this.dataSource
      .getRepository(RunEntity)
      .find({ where: { accountId }, order: { createdAt: 'DESC' }, take: limit });
    const counts = new Map<string, number>();
    if (runs.length > 0) {
      const rows: { run_id: string; n: string }[] = await this.dataSource.query(
        'SELECT run_id, count(*) AS n FROM agent.tool_calls WHERE run_id = ANY($1) GROUP BY run_id',
        [runs.map((r) => r.id)],
      );
      for (const row of rows) counts.set(row.run_id, Number(row.n));
    }
    return {
      data: runs.map((run) => ({
        id: run.id,
        status: run.status,
        model: run.model,
        message:
          [...run.messages]
            .reverse()
            .find((m) => m.role === 'user')
            ?.content.slice(0, 200) ?? '',
        tool_calls: counts.get(run.id) ?? 0,
        created_at: run.createdAt.toISOString(),
        finished_at: run.finishedAt ? run.finishedAt.toISOString() : null,
      })),
    };
  }

  async get(id: string, accountId?: string): Promise<RunView> {
    const run = await this.dataSource.getRepository(RunEntity).findOneBy({ id });
    if (!run || (accountId !== undefined && run.accountId !== accountId))
      throw new DomainError('not_found', `No agent run ${id} exists.`);
    const calls = await this.dataSource
      .getRepository(ToolCallEntity)
      .find({ where: { runId: id }, order: { id: 'ASC' } });
    return {
      id: run.id,
      account_id: run.accountId,
      status: run.status,
      model: run.model,
      output: run.output,
      tool_calls: calls.map(toolCallView),
      error: run.error,
      created_at: run.createdAt.toISOString(),
      finished_at: run.finishedAt ? run.finishedAt.toISOString() : null,
    };
  }

  /**
   * At start: runs that were running when the runner stopped cannot resume mid-conversation and
   * are failed with that reason; runs that never started are started now.
   */
  async failInterrupted(): Promise<void> {
    const runs = this.dataSource.getRepository(RunEntity);
    const interrupted = await runs.find({ where: { status: In(['running']) } });
    for (const run of interrupted) {
      await this.dataSource.getRepository(ToolCallEntity).update(
        { runId: run.id, state: 'running' },
        {
          state: 'finished',
          isError: true,
          result: [{ type: 'text', text: 'The agent runner restarted during this call.' }],
          finishedAt: new Date(),
        },
      );
      await runs.update(
        { id: run.id },
        {
          status: 'failed',
          error: 'The agent runner restarted during this run; start it again.',
          finishedAt: new Date(),
        },
      );
    }
    for (const run of await runs.find({ where: { status: 'queued' }, order: { createdAt: 'ASC' } }))
      this.launch(run);
    if (interrupted.length > 0)
      this.log.warn(`${interrupted.length} run(s) interrupted by a restart were failed`);
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.race([
      Promise.allSettled([...this.active]),
      new Promise((resolve) => setTimeout(resolve, 8000).unref()),
    ]);
  }
}
