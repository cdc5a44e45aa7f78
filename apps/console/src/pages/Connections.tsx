import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client';
import { LiveIndicator, useLiveConnections } from '../api/live';
import { useConnections } from '../api/queries';
import { useSignedIn } from '../api/session-context';
import type { Connection } from '../api/types';
import { Empty, ErrorNote, Loading, StatusBadge } from '../components/Notice';

export function Connections() {
  const session = useSignedIn();
  const live = useLiveConnections();
  const connections = useConnections();
  if (session.admin && !session.accountId)
    return <Empty>Choose an account (top right) to see its connections.</Empty>;
  return (
    <section>
      <h1>
        Connections <LiveIndicator {...live} />
      </h1>
      {connections.isPending ? <Loading what="the connections" /> : null}
      <ErrorNote error={connections.error} what="The connections could not be read" />
      {connections.data?.length === 0 ? (
        <Empty>
          No connection yet. <Link to="/catalog">Install a server from the catalog.</Link>
        </Empty>
      ) : null}
      {connections.data && connections.data.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th>Title</th>
              <th>Type</th>
              <th>Status</th>
              <th>Isolation</th>
              <th>Last activity</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {connections.data.map((c) => (
              <ConnectionRow key={c.id} connection={c} />
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

export function useConnectionActions(connection: Connection) {
  const session = useSignedIn();
  const queryClient = useQueryClient();
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ['connections'] });
    void queryClient.invalidateQueries({ queryKey: ['connection', connection.id] });
    void queryClient.invalidateQueries({ queryKey: ['events', connection.id] });
  };
  const path = `/functions/v1/mcp-connections/${encodeURIComponent(connection.id)}`;
  return {
    stop: useMutation({
      mutationFn: () => api(session, `${path}/stop`, { method: 'POST' }),
      onSettled: refresh,
    }),
    start: useMutation({
      mutationFn: () => api(session, `${path}/start`, { method: 'POST' }),
      onSettled: refresh,
    }),
    remove: useMutation({
      mutationFn: () => api(session, path, { method: 'DELETE' }),
      onSettled: refresh,
    }),
  };
}

const STOPPABLE = new Set(['mcpPending', 'mcpDeploying', 'mcpRunning']);

export function ConnectionActions({ connection }: { connection: Connection }) {
  const actions = useConnectionActions(connection);
  const busy = actions.stop.isPending || actions.start.isPending || actions.remove.isPending;
  const error = actions.stop.error ?? actions.start.error ?? actions.remove.error;
  return (
    <span className="actions">
      {STOPPABLE.has(connection.status) ? (
        <button type="button" disabled={busy} onClick={() => actions.stop.mutate()}>
          Stop
        </button>
      ) : (
        <button type="button" disabled={busy} onClick={() => actions.start.mutate()}>
          Start
        </button>
      )}
      <button
        type="button"
        className="danger"
        disabled={busy}
        onClick={() => {
          if (
            window.confirm(`Delete "${connection.title}"? Its credentials and data are destroyed.`)
          )
            actions.remove.mutate();
        }}
      >
        Delete
      </button>
      <ErrorNote error={error} />
    </span>
  );
}

function ConnectionRow({ connection }: { connection: Connection }) {
  return (
    <tr data-testid={`connection-${connection.id}`}>
      <td>
        <Link to={`/connections/${connection.id}`}>{connection.title}</Link>
      </td>
      <td>{connection.mcp_server_id}</td>
      <td>
        <StatusBadge status={connection.status} />
        <div className="muted small">{connection.status_reason}</div>
      </td>
      <td>{connection.isolation ?? '—'}</td>
      <td>
        {connection.last_active_at ? new Date(connection.last_active_at).toLocaleString() : '—'}
      </td>
      <td>
        <ConnectionActions connection={connection} />
      </td>
    </tr>
  );
}
