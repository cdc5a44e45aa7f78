import { NavLink, Outlet } from 'react-router';
import { useSession } from '../api/session-context';

export function Layout() {
  const { session, signOut, chooseAccount } = useSession();
  return (
    <div className="shell">
      <header>
        <strong className="brand">Athenic</strong>
        <nav aria-label="Main">
          <NavLink to="/catalog">Catalog</NavLink>
          <NavLink to="/connections">Connections</NavLink>
          <NavLink to="/agent">Agent</NavLink>
          <NavLink to="/health">Health</NavLink>
          {session?.admin ? <NavLink to="/admin">Admin</NavLink> : null}
        </nav>
        <div className="who">
          {session?.admin ? (
            <label>
              Account{' '}
              <input
                aria-label="Account id"
                defaultValue={session.accountId ?? ''}
                placeholder="account id"
                onBlur={(e) => chooseAccount(e.target.value.trim())}
                onKeyDown={(e) => {
                  if (e.key === 'Enter') chooseAccount((e.target as HTMLInputElement).value.trim());
                }}
              />
            </label>
          ) : (
            <span className="muted">account {session?.accountId}</span>
          )}
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}
