import { CONNECTION_STATUSES, type ConnectionStatus, DomainError } from '@athenic/contracts';
import {
  assertCanStart,
  assertCanStop,
  assertTransition,
  canTransition,
  TRANSITIONS,
} from './lifecycle';

const ALLOWED: [ConnectionStatus | null, ConnectionStatus][] = [
  [null, 'mcpPending'],
  ['mcpPending', 'mcpDeploying'],
  ['mcpDeploying', 'mcpRunning'],
  ['mcpRunning', 'mcpDeploying'],
  ['mcpDeploying', 'mcpPending'],
  ['mcpRunning', 'mcpPending'],
  ['mcpPending', 'mcpStopped'],
  ['mcpDeploying', 'mcpStopped'],
  ['mcpRunning', 'mcpStopped'],
  ['mcpError', 'mcpStopped'],
  ['mcpStopped', 'mcpPending'],
  ['mcpError', 'mcpPending'],
  ['mcpPending', 'mcpError'],
  ['mcpDeploying', 'mcpError'],
  ['mcpRunning', 'mcpError'],
];

describe('the connection lifecycle table', () => {
  it('allows exactly the transitions of DESIGN.md', () => {
    const all = ([null, ...CONNECTION_STATUSES] as (ConnectionStatus | null)[]).flatMap((from) =>
      CONNECTION_STATUSES.filter((to) => canTransition(from, to)).map((to) => [from, to]),
    );
    expect(all.sort()).toEqual([...ALLOWED].sort());
  });

  it.each([
    ['mcpStopped', 'mcpRunning'],
    ['mcpStopped', 'mcpError'],
    ['mcpPending', 'mcpRunning'],
    ['mcpError', 'mcpRunning'],
    ['mcpError', 'mcpDeploying'],
    ['mcpRunning', 'mcpRunning'],
  ] as [ConnectionStatus, ConnectionStatus][])(
    'refuses %s -> %s with invalid_transition',
    (from, to) => {
      expect(() => assertTransition(from, to)).toThrow(DomainError);
      try {
        assertTransition(from, to);
      } catch (error) {
        expect((error as DomainError).code).toBe('invalid_transition');
      }
    },
  );

  it('a new connection can only be pending', () => {
    expect(TRANSITIONS.new).toEqual(['mcpPending']);
  });

  it('stop is refused on a stopped connection only', () => {
    expect(() => assertCanStop('mcpStopped')).toThrow('The connection is already stopped.');
    for (const status of ['mcpPending', 'mcpDeploying', 'mcpRunning', 'mcpError'] as const)
      expect(() => assertCanStop(status)).not.toThrow();
  });

  it('start is allowed on a stopped or failed connection only', () => {
    for (const status of ['mcpStopped', 'mcpError'] as const)
      expect(() => assertCanStart(status)).not.toThrow();
    for (const status of ['mcpPending', 'mcpDeploying', 'mcpRunning'] as const) {
      expect(() => assertCanStart(status)).toThrow(
        `The connection is ${status}; only a stopped or failed connection can be started.`,
      );
    }
  });
});
