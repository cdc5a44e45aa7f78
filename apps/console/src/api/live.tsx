import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { EventStreamClient, type StreamState } from './event-stream';
import { keys } from './queries';
import { useSignedIn } from './session-context';

/**
 * The account's connection status changes as they happen (the gateway's event stream,
 * `GET /functions/v1/mcp-connections/stream`): each one refreshes what the pages show of that
 * connection. No polling: while the stream is open, nothing is read again unless it changed.
 */
export function useLiveConnections(): { state: StreamState; detail?: string } {
  const session = useSignedIn();
  const queryClient = useQueryClient();
  const [state, setState] = useState<{ state: StreamState; detail?: string }>({
    state: 'connecting',
  });
  useEffect(() => {
    if (session.admin && !session.accountId) return;
    const url = new URL('/functions/v1/mcp-connections/stream', window.location.origin);
    if (session.accountId) url.searchParams.set('account_id', session.accountId);
    const client = new EventStreamClient({
      url: url.toString(),
      headers: () => ({ Authorization: `Bearer ${session.key}` }),
      onState: (next, detail) => setState({ state: next, detail }),
      onEvent: (event) => {
        // status and deleted name a connection; snapshot (after a gap) is everything again.
        if (!['status', 'deleted', 'snapshot'].includes(event.event)) return;
        const data = (event.data ?? {}) as { connection_id?: unknown };
        const id = typeof data.connection_id === 'string' ? data.connection_id : undefined;
        void queryClient.invalidateQueries({ queryKey: keys.connections(session.accountId) });
        void queryClient.invalidateQueries({ queryKey: ['health'] });
        if (event.event === 'snapshot')
          void queryClient.invalidateQueries({ queryKey: ['connection'] });
        if (id) {
          void queryClient.invalidateQueries({ queryKey: keys.connection(id) });
          void queryClient.invalidateQueries({ queryKey: keys.events(id) });
        }
      },
    }).start();
    return () => client.stop();
  }, [session.key, session.accountId, session.admin, queryClient]);
  return state;
}

export function LiveIndicator({ state, detail }: { state: StreamState; detail?: string }) {
  const text =
    state === 'open'
      ? 'live'
      : state === 'waiting'
        ? 'reconnecting…'
        : state === 'connecting'
          ? 'connecting…'
          : `not live${detail ? `: ${detail}` : ''}`;
  return (
    <span className={`live live-${state}`} title={detail}>
      {text}
    </span>
  );
}
