/**
 * Who is calling. The service role acts for any account; an account key acts for its own
 * account only; a run token reaches only the MCP endpoints of the connections it names.
 */
export type Principal =
  | { kind: 'service' }
  | { kind: 'account'; accountId: string; keyId: string }
  /** `tokenId`: a digest of the token, naming this run's token and no other. */
  | { kind: 'run'; accountId: string; connectionIds: string[]; tokenId: string };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** How a principal appears in audit records. */
export function actorOf(principal: Principal | undefined): string {
  if (!principal) return 'anonymous';
  switch (principal.kind) {
    case 'service':
      return 'service-role';
    case 'account':
      return `api-key:${principal.keyId}`;
    case 'run':
      return `run-token:${principal.accountId}`;
  }
}
