import { defineCommand } from '../message';
import { RunAccepted, RunQuery, RunView, StartRunCommand } from './agent.dto';

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
