import { useQuery } from '@tanstack/react-query';
import { useAccountHealth } from '../api/queries';
import { useSignedIn } from '../api/session-context';
import { Empty, ErrorNote, Loading, StatusBadge } from '../components/Notice';

interface PlatformHealth {
  status: string;
  checks: Record<string, { status: string; [k: string]: unknown }>;
}

/** The platform's /health (answers 503 with the same body when something is down). */
async function platformHealth(): Promise<PlatformHealth> {
  const response = await fetch('/health', { headers: { Accept: 'application/json' } });
  return (await response.json()) as PlatformHealth;
}

export function Health() {
  const session = useSignedIn();
  const platform = useQuery({ queryKey: ['platform-health'], queryFn: platformHealth });
  const account = useAccountHealth();
  return (
    <section>
      <h1>Health</h1>
      <h2>Platform {platform.data ? <StatusBadge status={platform.data.status} /> : null}</h2>
      {platform.isPending ? <Loading what="the platform's health" /> : null}
      <ErrorNote error={platform.error} />
      {platform.data ? (
        <table>
          <thead>
            <tr>
              <th>Check</th>
              <th>Status</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(platform.data.checks).map(([name, check]) => (
              <tr key={name}>
                <td>{name}</td>
                <td>
                  <StatusBadge status={check.status} />
                </td>
                <td className="muted small">
                  {Object.entries(check)
                    .filter(([k]) => k !== 'status')
                    .map(
                      ([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`,
                    )
                    .join(', ')}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <h2>This account {account.data ? <StatusBadge status={account.data.status} /> : null}</h2>
      {session.admin && !session.accountId ? (
        <Empty>Choose an account (top right) to see its connections' health.</Empty>
      ) : null}
      {account.isFetching ? (
        <Loading what="the account's health (an MCP ping of each server)" />
      ) : null}
      <ErrorNote error={account.error} />
      {account.data?.connections.length === 0 ? (
        <Empty>No running connection to check.</Empty>
      ) : null}
      {account.data && account.data.connections.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th>Connection</th>
              <th>Status</th>
              <th>Healthy</th>
              <th>Response time</th>
              <th>Error</th>
            </tr>
          </thead>
          <tbody>
            {account.data.connections.map((c) => (
              <tr key={c.id}>
                <td>{c.title}</td>
                <td>
                  <StatusBadge status={c.status} />
                </td>
                <td>{c.healthy === null ? '—' : c.healthy ? 'yes' : 'no'}</td>
                <td>{c.response_time_ms === null ? '—' : `${c.response_time_ms} ms`}</td>
                <td>{c.error ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <button
        type="button"
        onClick={() => {
          void platform.refetch();
          void account.refetch();
        }}
      >
        Check again
      </button>
    </section>
  );
}
