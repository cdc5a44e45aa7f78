import { defineCommand, defineEvent } from '../message';
import {
  RunAccepted,
  RunList,
  RunListQuery,
  RunProgressEvent,
  RunQuery,
  RunView,
  StartRunCommand,
} from './agent.dto';

export const AgentRunStart = defineCommand({
  name: 'agent.run.start',
  payload: StartRunCommand,
  reply: RunAccepted,
  summary:
    "Starts an agent run over the account's MCP connections; persisted, then run. `service_unavailable` when no model is configured, `not_found` for a connection of another account.",
});

export const AgentRunGet = defineCommand({
  name: 'agent.run.get',
  payload: RunQuery,
  reply: RunView,
  summary: 'A run: status, output and every tool call (secrets masked).',
});

export const AgentRunProgress = defineEvent({
  name: 'agent.run.progress',
  payload: RunProgressEvent,
  summary:
    "A run's step as it happens: a tool call started or finished (secrets masked), or the run finished with its output or error. Published once, not through an outbox: a missed one is in the run's record (agent.run.get).",
});

export const AgentRunList = defineCommand({
  name: 'agent.run.list',
  payload: RunListQuery,
  reply: RunList,
  summary:
    "An account's newest runs, newest first: what was asked, how it ended, how many tool calls.",
});
