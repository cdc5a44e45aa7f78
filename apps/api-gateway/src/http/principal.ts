/**
 * Who is calling. The service role acts for any account; an account key acts for its own
 * account only.
 */
export type Principal = { kind: 'service' } | { kind: 'account'; accountId: string; keyId: string };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** How a principal appears in audit records. */
export function actorOf(principal: Principal | undefined): string {
  if (!principal) return 'anonymous';
  return principal.kind === 'service' ? 'service-role' : `api-key:${principal.keyId}`;
}
