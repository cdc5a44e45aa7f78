import { useState } from 'react';
import { Link, useParams } from 'react-router';
import { LiveIndicator, useLiveConnections } from '../api/live';
import {
  useAccountHealth,
  useConnection,
  useConnectionEvents,
  useConnectionLogs,
} from '../api/queries';
import { ErrorNote, Loading, StatusBadge } from '../components/Notice';
import { ConnectionActions } from './Connections';
import { ReplaceCredentials } from './ReplaceCredentials';
import { ToolExplorer } from './ToolExplorer';

export function ConnectionPage() {
  const { id = '' } = useParams();
  const live = useLiveConnections();
  const connection = useConnection(id);
  const events = useConnectionEvents(id);
  const [tail, setTail] = useState(true);
  const [stream, setStream] = useState('');
  const logs = useConnectionLogs(id, tail);

  if (connection.isPending) return <Loading what="the connection" />;
  if (connection.error)
    return (
      <section>
        <ErrorNote error={connection.error} what="This connection could not be read" />
        <Link to="/connections">Back to the connections</Link>
      </section>
    );
  const c = connection.data;
  const mcpUrl = `${window.location.origin}/functions/v1/mcp-connections/${c.id}/mcp`;
  const snippet = JSON.stringify(
    {
      mcpServers: {
        [c.mcp_server_id]: {
          type: 'streamable-http',
          url: mcpUrl,
          headers: { Authorization: 'Bearer <your API key>' },
        },
      },
    },
    null,
    2,
  );
  const streams = [...new Set((logs.data ?? []).map((l) => l.stream))].sort();

  return (
    <section>
      <p>
        <Link to="/connections">← Connections</Link>
      </p>
      <h1>
        {c.title} <StatusBadge status={c.status} /> <LiveIndicator {...live} />
      </h1>
      <p className="muted" data-testid="status-reason">
        {c.status_reason}
      </p>
      <dl className="facts">
        <dt>Type</dt>
        <dd>{c.mcp_server_id}</dd>
        <dt>Isolation</dt>
        <dd>{c.isolation ?? '—'}</dd>
        <dt>Last activity</dt>
        <dd>{c.last_active_at ? new Date(c.last_active_at).toLocaleString() : '—'}</dd>
        <dt>MCP URL</dt>
        <dd>
          <code>{mcpUrl}</code>{' '}
          <button type="button" onClick={() => void navigator.clipboard?.writeText(mcpUrl)}>
            Copy
          </button>
        </dd>
      </dl>
      <ConnectionActions connection={c} />
      <details>
        <summary>Client snippet</summary>
        <pre>{snippet}</pre>
        <button type="button" onClick={() => void navigator.clipboard?.writeText(snippet)}>
          Copy snippet
        </button>
      </details>

      <h2>Health</h2>
      <ConnectionHealth id={c.id} running={c.status === 'mcpRunning'} />

      <h2>Credentials</h2>
      <details>
        <summary>Replace the credentials</summary>
        <ReplaceCredentials connection={c} />
      </details>

      <h2>Tools</h2>
      <ToolExplorer connectionId={c.id} running={c.status === 'mcpRunning'} />

      <h2>Events</h2>
      <ErrorNote error={events.error} />
      <ol className="timeline" data-testid="events">
        {(events.data ?? []).map((e, i) => (
          <li key={i}>
            <time>{new Date(e.at).toLocaleTimeString()}</time> {e.from ?? '—'} →{' '}
            <strong>{e.to}</strong> <span className="muted">{e.reason}</span>
          </li>
        ))}
      </ol>

      <h2>Logs</h2>
      <div className="toolbar">
        <label>
          <input type="checkbox" checked={tail} onChange={(e) => setTail(e.target.checked)} /> Live
          tail
        </label>
        <select aria-label="Log stream" value={stream} onChange={(e) => setStream(e.target.value)}>
          <option value="">All streams</option>
          {streams.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <ErrorNote error={logs.error} />
      <pre className="logs" data-testid="logs">
        {(logs.data ?? [])
          .filter((l) => !stream || l.stream === stream)
          .map((l) => `${l.at} [${l.stream}] ${l.line}`)
          .join('\n') || 'No log lines yet.'}
      </pre>
    </section>
  );
}

/** This connection's line of the account's health check (an MCP ping, with its response time). */
function ConnectionHealth({ id, running }: { id: string; running: boolean }) {
  const health = useAccountHealth(running);
  if (!running) return <p className="muted">Checked while the connection runs.</p>;
  if (health.isPending) return <Loading what="its health (an MCP ping)" />;
  if (health.error) return <ErrorNote error={health.error} />;
  const line = health.data.connections.find((c) => c.id === id);
  if (!line) return <p className="muted">Not checked yet.</p>;
  return (
    <p data-testid="health">
      {line.healthy ? 'Healthy' : line.healthy === false ? 'Unhealthy' : 'Not checked'}
      {line.response_time_ms !== null ? `, answered in ${line.response_time_ms} ms` : ''}
      {line.error ? ` — ${line.error}` : ''}{' '}
      <button type="button" onClick={() => void health.refetch()}>
        Check again
      </button>
    </p>
  );
}
