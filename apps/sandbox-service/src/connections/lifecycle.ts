import { type ConnectionStatus, DomainError } from '@athenic/contracts';

/**
 * The one table of allowed status transitions (DESIGN.md, "Connection lifecycle"). Every
 * transition of a connection is checked here and nowhere else.
 *
 * | from                                   | to           | when                                         |
 * | (new)                                  | mcpPending   | install accepted                             |
 * | mcpPending                             | mcpDeploying | a slot is free                               |
 * | mcpDeploying                           | mcpRunning   | initialize and tools/list answered           |
 * | mcpRunning                             | mcpDeploying | redeploy: new credentials, restart on crash  |
 * | mcpDeploying, mcpRunning               | mcpPending   | requeued by the reconciler                   |
 * | pending, deploying, running, error     | mcpStopped   | user stop, idle reaper                       |
 * | mcpStopped, mcpError                   | mcpPending   | user start, automatic retry                  |
 * | pending, deploying, running            | mcpError     | any failure, deploy deadline                 |
 */
export const TRANSITIONS: Readonly<Record<ConnectionStatus | 'new', readonly ConnectionStatus[]>> =
  {
    new: ['mcpPending'],
    mcpPending: ['mcpDeploying', 'mcpStopped', 'mcpError'],
    mcpDeploying: ['mcpRunning', 'mcpPending', 'mcpStopped', 'mcpError'],
    mcpRunning: ['mcpDeploying', 'mcpPending', 'mcpStopped', 'mcpError'],
    mcpStopped: ['mcpPending'],
    mcpError: ['mcpStopped', 'mcpPending'],
  };

export function canTransition(from: ConnectionStatus | null, to: ConnectionStatus): boolean {
  return TRANSITIONS[from ?? 'new'].includes(to);
}

/** Throws `invalid_transition` with a sentence a person can act on. */
export function assertTransition(from: ConnectionStatus | null, to: ConnectionStatus): void {
  if (canTransition(from, to)) return;
  throw new DomainError(
    'invalid_transition',
    `The connection is ${from ?? 'new'}; it cannot become ${to}.`,
  );
}

/** A user's stop: allowed from every state but stopped. */
export function assertCanStop(status: ConnectionStatus): void {
  if (status === 'mcpStopped')
    throw new DomainError('invalid_transition', 'The connection is already stopped.');
  assertTransition(status, 'mcpStopped');
}

/** A user's start: only a stopped or failed connection can be started. */
export function assertCanStart(status: ConnectionStatus): void {
  if (
    !canTransition(status, 'mcpPending') ||
    status === 'mcpDeploying' ||
    status === 'mcpRunning'
  ) {
    throw new DomainError(
      'invalid_transition',
      `The connection is ${status}; only a stopped or failed connection can be started.`,
    );
  }
}

/** Statuses that hold (or are about to hold) a sandbox slot. */
export const ACTIVE_STATUSES: readonly ConnectionStatus[] = ['mcpDeploying', 'mcpRunning'];
