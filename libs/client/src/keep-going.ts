import {
  type Agent,
  type AgentResult,
  createTool,
  type StateData,
  type Tool,
} from '@inngest/agent-kit';

export interface KeepGoingOptions {
  /** Told of every refused call (to record it); the model gets the refusal either way. */
  onRefused?: (tool: string, input: unknown) => Promise<void> | void;
}

/**
 * AgentKit's agent lifecycle hooks that keep a run going when the model asks for a tool the agent
 * does not have (a made-up name, another account's tool, one an allow-list left out): the model
 * gets a tool error naming the tools it may call, and the run goes on to its answer. AgentKit
 * 0.13.2 on its own throws `Inference requested a non-existent tool` and ends the run.
 *
 * How: after each inference (`onResponse`, before AgentKit invokes the tools), every call to an
 * unknown name gets a stand-in tool of that name that answers the error; before the next
 * inference (`onStart`) and at the end (`onFinish`) the stand-ins are removed again, so the model
 * never sees them offered. Pass the result as `createAgent({ lifecycle })`.
 */
export function keepGoingOnUnknownTools<T extends StateData = StateData>(
  options: KeepGoingOptions = {},
): Agent.Lifecycle<T> {
  const standIns = new Set<string>();
  const drop = (agent: Agent<T>) => {
    for (const name of standIns) agent.tools.delete(name);
    standIns.clear();
  };
  return {
    onStart: ({ agent, prompt, history }) => {
      drop(agent);
      return { prompt, history: history ?? [], stop: false };
    },
    onResponse: ({ agent, result }) => {
      const known = [...agent.tools.keys()].filter((name) => !standIns.has(name));
      for (const message of result.output) {
        if (message.type !== 'tool_call' || !Array.isArray(message.tools)) continue;
        for (const call of message.tools) {
          if (agent.tools.has(call.name)) continue;
          standIns.add(call.name);
          agent.tools.set(call.name, refusal(call.name, known, options));
        }
      }
      return result;
    },
    onFinish: ({ agent, result }): AgentResult => {
      drop(agent);
      return result;
    },
  };
}

function refusal(name: string, known: string[], options: KeepGoingOptions): Tool.Any {
  return createTool({
    name,
    description: 'Not a tool of this agent.',
    handler: async (input: unknown) => {
      await options.onRefused?.(name, input ?? {});
      const offered = known.length > 0 ? known.slice(0, 50).join(', ') : 'none';
      return `Error: there is no tool named "${name}" in this run. The tools you may call: ${offered}.`;
    },
  });
}
