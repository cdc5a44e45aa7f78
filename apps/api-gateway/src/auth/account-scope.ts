import { ACCOUNT_ID_PATTERN, DomainError } from '@athenic/contracts';
import type { Principal } from './principal';

/**
 * The account a request acts for. With the service role key the caller names it (required);
 * with an account key it defaults to the key's own account, and naming another one is 403.
 */
export function accountFor(principal: Principal | undefined, requested: unknown): string {
  if (
    requested !== undefined &&
    (typeof requested !== 'string' || !ACCOUNT_ID_PATTERN.test(requested))
  ) {
    throw new DomainError(
      'validation_failed',
      'account_id must be 1-128 characters of letters, digits, ".", "_", ":" or "-".',
    );
  }
  if (!principal)
    throw new DomainError('unauthorized', 'Send an API key as "Authorization: Bearer <key>".');
  if (principal.kind === 'service') {
    if (requested === undefined)
      throw new DomainError(
        'validation_failed',
        'account_id is required with the service role key.',
      );
    return requested as string;
  }
  if (requested !== undefined && requested !== principal.accountId) {
    throw new DomainError('forbidden', 'This API key acts only for its own account.');
  }
  return principal.accountId;
}

/** The account filter for looking up a resource by id: none for the service role. */
export function ownerFilter(principal: Principal | undefined): string | undefined {
  return principal?.kind === 'account' ? principal.accountId : undefined;
}
