import { useQuery } from '@tanstack/react-query';
import { useSignedIn } from './session-context';
import { api } from './client';
import type {
  AccountHealth,
  Connection,
  ConnectionEvent,
  LogLine,
  RunSummary,
  ServerType,
} from './types';

export const keys = {
  catalog: ['catalog'] as const,
  connections: (account: string | undefined) => ['connections', account ?? ''] as const,
  connection: (id: string) => ['connection', id] as const,
  events: (id: string) => ['events', id] as const,
  logs: (id: string) => ['logs', id] as const,
  health: (account: string | undefined) => ['health', account ?? ''] as const,
};

export function useCatalog() {
  const session = useSignedIn();
  return useQuery({
    queryKey: keys.catalog,
    queryFn: () =>
      api<{ data: ServerType[] }>(session, '/functions/v1/mcp-servers').then((r) => r.data),
  });
}

export function useConnections() {
  const session = useSignedIn();
  return useQuery({
    queryKey: keys.connections(session.accountId),
    enabled: !session.admin || Boolean(session.accountId),
    queryFn: () =>
      api<{ data: Connection[] }>(session, '/functions/v1/mcp-connections', { account: true }).then(
        (r) => r.data,
      ),
  });
}

export function useConnection(id: string) {
  const session = useSignedIn();
  return useQuery({
    queryKey: keys.connection(id),
    queryFn: () =>
      api<Connection>(session, `/functions/v1/mcp-connections/${encodeURIComponent(id)}`),
    retry: false,
  });
}

export function useConnectionEvents(id: string) {
  const session = useSignedIn();
  return useQuery({
    queryKey: keys.events(id),
    queryFn: () =>
      api<{ data: ConnectionEvent[] }>(
        session,
        `/functions/v1/mcp-connections/${encodeURIComponent(id)}/events`,
      ).then((r) => r.data),
  });
}

export function useConnectionLogs(id: string, live: boolean) {
  const session = useSignedIn();
  return useQuery({
    queryKey: keys.logs(id),
    // The live tail: while the page shows it, the last lines are read again every 2 s.
    refetchInterval: live ? 2000 : false,
    queryFn: () =>
      api<{ data: LogLine[] }>(
        session,
        `/functions/v1/mcp-connections/${encodeURIComponent(id)}/logs`,
        { query: { tail: '200' } },
      ).then((r) => r.data),
  });
}

export function useAccountHealth(enabled = true) {
  const session = useSignedIn();
  return useQuery({
    queryKey: keys.health(session.accountId),
    enabled: enabled && (!session.admin || Boolean(session.accountId)),
    queryFn: () =>
      api<AccountHealth>(session, '/functions/v1/mcp-connections/health', { account: true }),
  });
}

export function useRuns() {
  const session = useSignedIn();
  return useQuery({
    queryKey: ['runs', session.accountId ?? ''],
    enabled: !session.admin || Boolean(session.accountId),
    queryFn: () =>
      api<{ data: RunSummary[] }>(session, '/functions/v1/agent-runs', {
        account: true,
        query: { limit: '20' },
      }).then((r) => r.data),
  });
}
