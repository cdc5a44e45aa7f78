import { type McpServersConfig, McpServersConfigBuilder } from '@athenic/agent-config';
import {
  keepGoingOnUnknownTools,
  McpServerUnavailableError,
  type McpToolset,
  mcpTools,
} from '@athenic/client';
import type { ConnectionView } from '@athenic/contracts';
import { CredentialRevealer } from '@athenic/credential-client';
import { BusClient } from '@athenic/messaging';
import { SecretMasker } from '@athenic/platform-crypto';
import {
  type AgentResult,
  createAgent,
  createNetwork,
  createState,
  type Message,
  type Tool,
} from '@inngest/agent-kit';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AGENT_CONFIG, type AgentConfig } from '../config/env';
import { Models } from '../models/models';
import { RunRecord } from './run-record';
import { RunEntity } from './run.entity';

const NO_SECRETS = { of: () => new SecretMasker([]), all: () => new SecretMasker([]) };

const SYSTEM_PROMPT =
  'You are a helpful assistant of the Athenic platform. Use the tools of the connected MCP servers when they help answer the user; say what you did.';

/**
 * Runs one agent run with AgentKit, in process (no Inngest server): the account's MCP servers
 * through `buildMcpServersConfig` and the gateway's MCP endpoint, their tools through
 * `@athenic/client`'s `mcpTools` (the same code a user's own project runs; one client per
 * connection, closed at the end), a code router that lets the model use tools until it answers,
 * every tool call recorded with secrets masked and told to the run's stream as it happens.
 */
@Injectable()
export class RunExecutor {
  private readonly log = new Logger('RunExecutor');
  private readonly configs: McpServersConfigBuilder;
  private readonly revealer: CredentialRevealer;

  constructor(
    @Inject(AGENT_CONFIG) private readonly config: AgentConfig,
    private readonly dataSource: DataSource,
    private readonly models: Models,
    private readonly bus: BusClient,
  ) {
    this.configs = new McpServersConfigBuilder(bus, config.internalSecret, config.env.GATEWAY_URL);
    this.revealer = new CredentialRevealer(bus, config.internalSecret, 'agent-runner');
  }

  async execute(run: RunEntity): Promise<void> {
    const runs = this.dataSource.getRepository(RunEntity);
    await runs.update({ id: run.id }, { status: 'running', startedAt: new Date() });
    this.log.log(`Run ${run.id} started (${run.model})`);
    let masker = new SecretMasker([]);
    let record: RunRecord | undefined;
    try {
      const servers = await this.configs.build(run.accountId, {
        connectionIds: run.connectionIds ?? undefined,
        ttlSeconds: 3600,
      });
      // The connections' secrets, to mask what is stored; forgotten when the run ends.
      const secrets = new Map<string, SecretMasker>();
      const connectionOf = new Map<string, ConnectionView>();
      for (const [i, connection] of servers.connections.entries()) {
        connectionOf.set(servers.mcpServers[i].name, connection);
        secrets.set(
          servers.mcpServers[i].name,
          new SecretMasker(Object.values(await this.revealer.reveal(run.accountId, connection.id))),
        );
      }
      masker = new SecretMasker([...secrets.values()].flatMap((m) => m.values()));
      const runMasker = masker;
      record = new RunRecord(
        this.dataSource,
        this.bus,
        run,
        { of: (server) => secrets.get(server) ?? runMasker, all: () => runMasker },
        (server) => connectionOf.get(server)!.id,
      );
      const toolset = await this.connectTools(servers, run, record);
      try {
        const output = masker.mask(await this.converse(run, toolset.tools, record));
        await runs.update({ id: run.id }, { status: 'completed', output, finishedAt: new Date() });
        this.log.log(`Run ${run.id} completed after ${record.calls} tool call(s)`);
        await record.finished('completed', output, null);
      } finally {
        await toolset.close();
      }
    } catch (error) {
      const reason = masker.mask(describe(error, this.config.env.OPENAI_BASE_URL));
      this.log.warn(`Run ${run.id} failed: ${reason}`);
      await runs.update(
        { id: run.id },
        { status: 'failed', error: reason, finishedAt: new Date() },
      );
      await (
        record ?? new RunRecord(this.dataSource, this.bus, run, NO_SECRETS, () => '')
      ).finished('failed', null, reason);
    }
  }

  /** The servers' tools (those the run's allow-list lets through), each call recorded. */
  private async connectTools(
    servers: McpServersConfig,
    run: RunEntity,
    record: RunRecord,
  ): Promise<McpToolset> {
    try {
      return await mcpTools(servers.mcpServers, {
        clientName: 'athenic-agent-runner',
        timeoutMs: this.config.env.TOOL_CALL_TIMEOUT_MS,
        maxResultBytes: this.config.env.TOOL_RESULT_MAX_BYTES,
        allow: run.tools ?? undefined,
        track: (call) => record.started(call),
      });
    } catch (error) {
      if (!(error instanceof McpServerUnavailableError)) throw error;
      const connection = servers.connections[error.index];
      throw new Error(
        `Connection ${connection.id} ("${connection.title}"): its tools could not be listed: ${error.reason}`,
      );
    }
  }

  private async converse(run: RunEntity, tools: Tool.Any[], record: RunRecord): Promise<string> {
    const model = this.models.adapter(run.model);
    const system = [
      SYSTEM_PROMPT,
      ...run.messages.filter((m) => m.role === 'system').map((m) => m.content),
    ].join('\n\n');
    const conversation = run.messages.filter((m) => m.role !== 'system');
    const last = conversation[conversation.length - 1];
    const earlier: Message[] = conversation
      .slice(0, -1)
      .map((m) => ({ type: 'text', role: m.role as 'user' | 'assistant', content: m.content }));
    // A tool the model asks for that the run does not have (made up, another account's, left out
    // by the allow-list) answers an error and the run goes on.
    const agent = createAgent({
      name: 'assistant',
      system,
      tools,
      model,
      lifecycle: keepGoingOnUnknownTools({
        onRefused: (tool, input) => record.refused(tool, input),
      }),
    });
    const maxSteps = this.config.env.AGENT_MAX_STEPS;
    const network = createNetwork({
      name: `run-${run.id}`,
      agents: [agent],
      defaultModel: model,
      maxIter: maxSteps,
      // A code router: the model goes on while it calls tools, and stops when it answers.
      router: ({ callCount, lastResult }) =>
        callCount === 0 || (lastResult && lastResult.toolCalls.length > 0 && callCount < maxSteps)
          ? agent
          : undefined,
    });
    const result = await network.run(last?.content ?? '', {
      state: createState({}, { messages: earlier }),
    });
    return finalText(result.state.results);
  }
}

function finalText(results: AgentResult[]): string {
  for (let i = results.length - 1; i >= 0; i--) {
    const text = results[i].output
      .filter((m) => m.type === 'text' && m.role === 'assistant')
      .map((m) =>
        typeof (m as { content: unknown }).content === 'string'
          ? (m as { content: string }).content
          : JSON.stringify((m as { content: unknown }).content),
      )
      .join('\n');
    if (text) return text;
  }
  return '';
}

function describe(error: unknown, baseUrl: string): string {
  const text = error instanceof Error ? error.message : String(error);
  if (/fetch failed|ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(text))
    return `The model server could not be reached (${baseUrl}): ${text}`;
  return text;
}
