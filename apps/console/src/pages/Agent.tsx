import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { api } from '../api/client';
import { EventStreamClient, type StreamState } from '../api/event-stream';
import { useConnections, useRuns } from '../api/queries';
import { useSignedIn } from '../api/session-context';
import type { ToolCall } from '../api/types';
import { Empty, ErrorNote } from '../components/Notice';

interface Finished {
  status: string;
  output: string | null;
  error: string | null;
}

/** A chat with an agent over the account's connections; each tool call shown as it happens. */
export function Agent() {
  const session = useSignedIn();
  const connections = useConnections();
  const running = (connections.data ?? []).filter((c) => c.status === 'mcpRunning');
  const [chosen, setChosen] = useState<string[]>([]);
  const [message, setMessage] = useState('');
  const [runId, setRunId] = useState<string>();
  const runs = useRuns();
  const queryClient = useQueryClient();
  const start = useMutation({
    mutationFn: () =>
      api<{ id: string }>(session, '/functions/v1/agent-runs', {
        method: 'POST',
        body: {
          ...(session.admin ? { account_id: session.accountId } : {}),
          messages: [{ role: 'user', content: message.trim() }],
          ...(chosen.length ? { connection_ids: chosen } : {}),
        },
      }),
    onSuccess: ({ id }) => {
      void queryClient.invalidateQueries({ queryKey: ['runs'] });
      setRunId(id);
      setMessage('');
    },
  });
  if (session.admin && !session.accountId)
    return <Empty>Choose an account (top right) to run an agent for.</Empty>;
  return (
    <section>
      <h1>Agent</h1>
      <fieldset>
        <legend>Connections the agent may use</legend>
        {running.length === 0 ? (
          <p className="muted">No running connection: the agent has no tools.</p>
        ) : null}
        {running.map((c) => (
          <label key={c.id} className="check">
            <input
              type="checkbox"
              checked={chosen.includes(c.id)}
              onChange={(e) =>
                setChosen((ids) =>
                  e.target.checked ? [...ids, c.id] : ids.filter((i) => i !== c.id),
                )
              }
            />{' '}
            {c.title} <span className="muted">({c.mcp_server_id})</span>
          </label>
        ))}
        <p className="muted small">None chosen: every running connection.</p>
      </fieldset>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (message.trim()) start.mutate();
        }}
      >
        <label htmlFor="message">Message</label>
        <textarea
          id="message"
          rows={3}
          value={message}
          onChange={(e) => setMessage(e.target.value)}
        />
        <button type="submit" className="primary" disabled={start.isPending || !message.trim()}>
          {start.isPending ? 'Starting…' : 'Send'}
        </button>
      </form>
      <ErrorNote error={start.error} what="The run could not start" />
      {runId ? <RunView key={runId} runId={runId} /> : null}
      <h2>Past runs</h2>
      <ErrorNote error={runs.error} />
      {runs.data?.length === 0 ? <Empty>No run yet.</Empty> : null}
      <ul className="runs">
        {(runs.data ?? []).map((r) => (
          <li key={r.id}>
            <button type="button" className="link" onClick={() => setRunId(r.id)}>
              {r.message || '(no message)'}
            </button>{' '}
            <span className="muted small">
              {r.status}, {r.tool_calls} tool call(s), {new Date(r.created_at).toLocaleString()}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** One run, from its live stream: the tool calls as they start and end, then the answer. */
function RunView({ runId }: { runId: string }) {
  const session = useSignedIn();
  const queryClient = useQueryClient();
  const [calls, setCalls] = useState<ToolCall[]>([]);
  const [finished, setFinished] = useState<Finished>();
  const [state, setState] = useState<{ state: StreamState; detail?: string }>({
    state: 'connecting',
  });
  useEffect(() => {
    const client = new EventStreamClient({
      url: new URL(`/functions/v1/agent-runs/${runId}/stream`, window.location.origin).toString(),
      headers: () => ({ Authorization: `Bearer ${session.key}` }),
      isFinal: (e) => e.event === 'run.finished',
      onState: (next, detail) => setState({ state: next, detail }),
      onEvent: (e) => {
        if (e.event === 'tool_call.started' || e.event === 'tool_call.finished') {
          const call = e.data as ToolCall;
          setCalls((list) =>
            [...list.filter((c) => c.id !== call.id), call].sort(
              (a, b) => Number(a.id) - Number(b.id),
            ),
          );
        } else if (e.event === 'run.finished') {
          setFinished(e.data as Finished);
          void queryClient.invalidateQueries({ queryKey: ['runs'] });
        }
      },
    }).start();
    return () => client.stop();
  }, [runId, session.key, queryClient]);
  return (
    <div className="run" data-testid="run">
      <h2>Run</h2>
      <ol className="calls">
        {calls.map((c) => (
          <li
            key={c.id}
            data-testid="tool-call"
            className={c.is_error ? 'call call-error' : 'call'}
          >
            <strong>{c.tool}</strong>{' '}
            <span className="muted">
              {c.state === 'running'
                ? 'running…'
                : c.state === 'refused'
                  ? 'refused'
                  : `${c.duration_ms} ms`}
            </span>
            <pre>{JSON.stringify(c.arguments, null, 2)}</pre>
            {c.state !== 'running' && c.result !== null ? (
              <pre>{JSON.stringify(c.result, null, 2)}</pre>
            ) : null}
          </li>
        ))}
      </ol>
      {finished ? (
        finished.status === 'completed' ? (
          <div className="answer" data-testid="answer">
            {finished.output}
          </div>
        ) : (
          <p className="error" role="alert">
            The run failed: {finished.error}
          </p>
        )
      ) : (
        <p className="muted">{state.state === 'waiting' ? 'Reconnecting…' : 'Working…'}</p>
      )}
    </div>
  );
}
