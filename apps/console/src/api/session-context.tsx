import { createContext, type ReactNode, useContext, useMemo, useState } from 'react';
import { clearSession, loadSession, saveSession, type Session } from './session';

interface SessionValue {
  session: Session | undefined;
  signIn(session: Session): void;
  signOut(): void;
  chooseAccount(accountId: string): void;
}

const SessionContext = createContext<SessionValue | undefined>(undefined);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [session, setSession] = useState<Session | undefined>(() => loadSession());
  const value = useMemo<SessionValue>(
    () => ({
      session,
      signIn(next) {
        saveSession(next);
        setSession(next);
      },
      signOut() {
        clearSession();
        setSession(undefined);
      },
      chooseAccount(accountId) {
        if (!session) return;
        const next = { ...session, accountId: accountId || undefined };
        saveSession(next);
        setSession(next);
      },
    }),
    [session],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error('useSession outside SessionProvider');
  return value;
}

/** The signed-in session (the pages behind sign-in only render with one). */
export function useSignedIn(): Session {
  const { session } = useSession();
  if (!session) throw new Error('not signed in');
  return session;
}
