import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { useSignedIn } from '../api/session-context';
import { Empty, ErrorNote, Loading } from '../components/Notice';

interface ApiKey {
  id: string;
  account_id: string;
  name: string;
  key_prefix: string;
  created_at: string;
  revoked_at: string | null;
}

interface KeyStatus {
  current_version: number;
  versions: { version: number; status: string; credential_sets: number }[];
  rotation?: { status: string; done: number; total: number; error: string | null } | null;
  [k: string]: unknown;
}

/** The service role's pages: account keys, master keys, public server types. */
export function Admin() {
  const session = useSignedIn();
  if (!session.admin)
    return (
      <p className="error" role="alert">
        The admin pages need the service role key.
      </p>
    );
  return (
    <section>
      <h1>Admin</h1>
      <ApiKeys />
      <MasterKeys />
      <AddServerType />
    </section>
  );
}

function ApiKeys() {
  const session = useSignedIn();
  const queryClient = useQueryClient();
  const [name, setName] = useState('');
  const [created, setCreated] = useState<string>();
  const list = useQuery({
    queryKey: ['api-keys', session.accountId ?? ''],
    enabled: Boolean(session.accountId),
    queryFn: () =>
      api<{ data: ApiKey[] }>(session, '/functions/v1/api-keys', { account: true }).then(
        (r) => r.data,
      ),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ['api-keys'] });
  const create = useMutation({
    mutationFn: () =>
      api<{ key: string }>(session, '/functions/v1/api-keys', {
        method: 'POST',
        body: { account_id: session.accountId, name: name.trim() },
      }),
    onSuccess: (r) => {
      setCreated(r.key);
      setName('');
      refresh();
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api(session, `/functions/v1/api-keys/${id}`, { method: 'DELETE' }),
    onSettled: refresh,
  });
  return (
    <>
      <h2>Account keys</h2>
      {!session.accountId ? <Empty>Choose an account (top right) to manage its keys.</Empty> : null}
      {list.isPending && session.accountId ? <Loading what="the keys" /> : null}
      <ErrorNote error={list.error ?? revoke.error} />
      {list.data?.length === 0 ? <Empty>This account has no key yet.</Empty> : null}
      {list.data && list.data.length > 0 ? (
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Prefix</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.key_prefix}…</code>
                </td>
                <td>{new Date(k.created_at).toLocaleString()}</td>
                <td>
                  {k.revoked_at ? (
                    'revoked'
                  ) : (
                    <button
                      type="button"
                      className="danger"
                      onClick={() => {
                        if (window.confirm(`Revoke the key "${k.name}"?`)) revoke.mutate(k.id);
                      }}
                    >
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {session.accountId ? (
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (name.trim()) create.mutate();
          }}
        >
          <input
            aria-label="Key name"
            placeholder="key name"
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
          <button type="submit" disabled={create.isPending || !name.trim()}>
            Create key
          </button>
        </form>
      ) : null}
      <ErrorNote error={create.error} />
      {created ? (
        <p className="notice" role="status">
          The new key, shown this once: <code data-testid="new-key">{created}</code>
        </p>
      ) : null}
    </>
  );
}

function MasterKeys() {
  const session = useSignedIn();
  const queryClient = useQueryClient();
  const status = useQuery({
    queryKey: ['master-keys'],
    queryFn: () => api<KeyStatus>(session, '/functions/v1/admin/credential-keys'),
  });
  const rotate = useMutation({
    mutationFn: () =>
      api<KeyStatus>(session, '/functions/v1/admin/credential-keys/rotate', { method: 'POST' }),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ['master-keys'] }),
  });
  return (
    <>
      <h2>Master keys</h2>
      {status.isPending ? <Loading what="the master keys" /> : null}
      <ErrorNote error={status.error ?? rotate.error} />
      {status.data ? (
        <>
          <p>Current version: {status.data.current_version}</p>
          <ul>
            {status.data.versions.map((v) => (
              <li key={v.version}>
                v{v.version}: {v.status}, wraps {v.credential_sets} credential set(s)
              </li>
            ))}
          </ul>
          {status.data.rotation ? (
            <p>
              Rotation: {status.data.rotation.status} ({status.data.rotation.done}/
              {status.data.rotation.total})
              {status.data.rotation.error ? ` — ${status.data.rotation.error}` : ''}
            </p>
          ) : null}
        </>
      ) : null}
      <button type="button" disabled={rotate.isPending} onClick={() => rotate.mutate()}>
        {rotate.isPending ? 'Starting…' : 'Start a rotation'}
      </button>
      <button type="button" onClick={() => void status.refetch()}>
        Refresh
      </button>
    </>
  );
}

function AddServerType() {
  const session = useSignedIn();
  const queryClient = useQueryClient();
  const [text, setText] = useState('');
  const [parseError, setParseError] = useState<string>();
  const add = useMutation({
    mutationFn: (body: unknown) =>
      api(session, '/functions/v1/mcp-servers', { method: 'POST', body }),
    onSuccess: () => {
      setText('');
      void queryClient.invalidateQueries({ queryKey: ['catalog'] });
    },
  });
  return (
    <>
      <h2>Add a public server type</h2>
      <p className="muted">
        The type as JSON, as POST /functions/v1/mcp-servers takes it (see /docs).
      </p>
      <textarea
        aria-label="Server type JSON"
        rows={8}
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <button
        type="button"
        disabled={!text.trim() || add.isPending}
        onClick={() => {
          try {
            const body = JSON.parse(text);
            setParseError(undefined);
            add.mutate(body);
          } catch (e) {
            setParseError(`Not JSON: ${(e as Error).message}`);
          }
        }}
      >
        Add
      </button>
      {parseError ? <p className="error">{parseError}</p> : null}
      <ErrorNote error={add.error} />
      {add.isSuccess ? <p role="status">Added.</p> : null}
    </>
  );
}
