// The guide's "Using MCP Servers with Agents" example, in a project of your own: an AgentKit agent
// over the account's MCP connections on an Athenic platform.
//
//   ATHENIC_URL=http://localhost:3000 ATHENIC_API_KEY=ak_... ACCOUNT_ID=user-account-id \
//   OPENAI_API_KEY=sk-... [OPENAI_BASE_URL=...] [OPENAI_MODEL=gpt-4o-mini] \
//   node agent.mjs "Find all open pull requests in our repository"
//
// It prints the answer and the tool calls as one JSON line. With --plain-mcp-servers it hands the
// servers to AgentKit's own `mcpServers` option instead of `mcpTools` (see the README: AgentKit
// 0.13.2 fails that way, inngest/agent-kit#312).
import { buildMcpServersConfig, keepGoingOnUnknownTools, mcpTools } from '@athenic/client';
import { createAgent, createNetwork, createState, openai } from '@inngest/agent-kit';

const plain = process.argv.includes('--plain-mcp-servers');
const question =
  process.argv.slice(2).find((a) => !a.startsWith('--')) ??
  'Find all open pull requests in our repository';
const accountId = process.env.ACCOUNT_ID;
const platform = { baseUrl: process.env.ATHENIC_URL, apiKey: process.env.ATHENIC_API_KEY };

// Get all active MCP servers for the user
const mcpServers = await buildMcpServersConfig(accountId, platform);

// Their tools, as AgentKit tools (the way that works with AgentKit 0.13.2); each call noted
const calls = [];
const toolset = plain
  ? { tools: [], close: async () => {} }
  : await mcpTools(mcpServers, {
      track: (call) => {
        calls.push({ tool: call.tool, server: call.server, arguments: call.arguments });
      },
    });

const agent = createAgent({
  name: 'assistant',
  system: 'You are a helpful assistant. Use the tools of the MCP servers when they help.',
  model: openai({
    model: process.env.OPENAI_MODEL ?? 'gpt-4o-mini',
    apiKey: process.env.OPENAI_API_KEY,
    baseUrl: process.env.OPENAI_BASE_URL,
  }),
  ...(plain ? { mcpServers: mcpServers.mcp_servers } : { tools: toolset.tools }),
  // A tool name the model makes up gets a tool error instead of ending the run.
  lifecycle: keepGoingOnUnknownTools(),
});

// Create agent state with MCP servers
const state = createState({
  // other state configuration...
  mcpServers: mcpServers.mcp_servers,
});

// The agent can now use the MCP servers
const result = await runAgent(agent, state, {
  messages: [{ role: 'user', content: question }],
});

console.log(JSON.stringify({ output: result, toolCalls: calls }));
await toolset.close();

/**
 * The guide's `agent.run(state, { messages })`, as AgentKit's API has it: a network of the one
 * agent, which goes on while the model calls tools (their results fed back) and stops at its
 * answer; the last user message is the input, earlier ones the history.
 */
async function runAgent(agent, state, { messages }) {
  const last = messages[messages.length - 1];
  const earlier = messages
    .slice(0, -1)
    .map((m) => ({ type: 'text', role: m.role, content: m.content }));
  const network = createNetwork({
    name: 'athenic-example',
    agents: [agent],
    defaultModel: agent.model,
    maxIter: 6,
    router: ({ callCount, lastResult }) =>
      callCount === 0 || (lastResult && lastResult.toolCalls.length > 0) ? agent : undefined,
  });
  const withHistory = earlier.length > 0 ? createState(state.data, { messages: earlier }) : state;
  const run = await network.run(last.content, { state: withHistory });
  return answerOf(run.state.results);
}

/** The text of the last result that has any. */
function answerOf(results) {
  for (const result of [...results].reverse()) {
    const text = result.output
      .filter((m) => m.type === 'text' && m.role === 'assistant')
      .map((m) =>
        typeof m.content === 'string' ? m.content : m.content.map((c) => c.text).join(''),
      )
      .join('\n');
    if (text) return text;
  }
  return '';
}
