import { useState } from 'react';
import { useNavigate } from 'react-router';
import { api, ApiError, explain } from '../api/client';
import { useSession } from '../api/session-context';

/** Paste a key: an account key (ak_...) or the service role key (admin pages, any account). */
export function SignIn() {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const [key, setKey] = useState('');
  const [accountId, setAccountId] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setError(undefined);
    const trimmed = key.trim();
    if (!trimmed) return setError('Paste an API key first.');
    setBusy(true);
    try {
      const me = await api<{ role: 'service' | 'account'; account_id: string | null }>(
        { key: trimmed, admin: false },
        '/functions/v1/whoami',
      );
      const admin = me.role === 'service';
      signIn({
        key: trimmed,
        admin,
        accountId: admin ? accountId.trim() || undefined : (me.account_id ?? undefined),
      });
      navigate('/connections');
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? 'This key was refused.' : explain(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="signin">
      <h1>Athenic console</h1>
      <form onSubmit={submit}>
        <label htmlFor="key">API key</label>
        <input
          id="key"
          type="password"
          autoComplete="off"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          placeholder="ak_… or the service role key"
        />
        <label htmlFor="account">Account id (with the service role key)</label>
        <input
          id="account"
          value={accountId}
          onChange={(e) => setAccountId(e.target.value)}
          placeholder="user-account-id"
        />
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <p className="muted">
          The key stays in this tab's session storage and is sent only to this platform.
        </p>
      </form>
    </div>
  );
}
