/** Who the console acts as: the key the user pasted, kept in session storage (never in a URL). */
export interface Session {
  key: string;
  /** The service role key: the admin pages, and every account (one chosen at a time). */
  admin: boolean;
  /** The account the pages show: an account key's own, or the one an admin chose. */
  accountId?: string;
}

const STORAGE_KEY = 'athenic.console.session';

export function loadSession(storage: Storage = sessionStorage): Session | undefined {
  try {
    const raw = storage.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    const value = JSON.parse(raw) as Partial<Session>;
    if (typeof value.key !== 'string' || value.key.length === 0) return undefined;
    return {
      key: value.key,
      admin: value.admin === true,
      accountId:
        typeof value.accountId === 'string' && value.accountId ? value.accountId : undefined,
    };
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session, storage: Storage = sessionStorage): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export function clearSession(storage: Storage = sessionStorage): void {
  storage.removeItem(STORAGE_KEY);
}
