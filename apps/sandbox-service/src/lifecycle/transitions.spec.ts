import { CONNECTION_STATUSES, type ConnectionStatus } from '@athenic/contracts';
import {
  type TransitionContext,
  type TransitionDef,
  type TransitionName,
  TRANSITIONS,
  statusGraph,
} from './transitions';

/** The status graph of docs/lifecycle.md: every named transition must stay within it. */
const DOCUMENTED: Record<ConnectionStatus | 'new', ConnectionStatus[]> = {
  new: ['mcpPending'],
  mcpPending: ['mcpDeploying', 'mcpStopped'],
  mcpDeploying: ['mcpRunning', 'mcpDeploying', 'mcpPending', 'mcpStopped', 'mcpError'],
  mcpRunning: ['mcpDeploying', 'mcpPending', 'mcpStopped', 'mcpError'],
  mcpStopped: ['mcpPending'],
  mcpError: ['mcpStopped', 'mcpPending'],
};

const context: TransitionContext = {
  now: new Date('2026-11-30T12:00:00Z'),
  deployTimeoutMs: 60_000,
  replica: 'replica-a',
};
const all = Object.entries(TRANSITIONS) as [TransitionName, TransitionDef<any>][];
const params: { [N in TransitionName]: unknown } = {
  installed: undefined,
  scheduled: undefined,
  deployed: { tools: 3, isolation: 'bubblewrap', bridgeUrl: 'http://b', sandboxRef: 'r' },
  deployFailed: { reason: 'The server failed to start.' },
  deadlinePassed: undefined,
  crashed: { how: 'exited with code 1', restarts: 0, budget: 3, delayMs: 1000 },
  crashBudgetSpent: { how: 'exited with code 1', restarts: 3, tail: 'boom' },
  userStop: undefined,
  idleStop: { idleMs: 900_000 },
  lost: { cause: 'vanished' },
  lostWhileUnwanted: { cause: 'service-restarted' },
  userStart: undefined,
  credentialsReplaced: undefined,
};

describe('the named transitions', () => {
  it('draw exactly the documented status graph', () => {
    const drawn = Object.fromEntries(
      [...statusGraph()].map(([from, to]) => [from, [...to].sort()]),
    );
    expect(drawn).toEqual(
      Object.fromEntries(Object.entries(DOCUMENTED).map(([from, to]) => [from, [...to].sort()])),
    );
    // Every status is reachable and can be left.
    for (const status of CONNECTION_STATUSES) expect(drawn[status]?.length).toBeGreaterThan(0);
  });

  it.each(all)(
    '%s leaves no field of an earlier sandbox behind unless it sets a new one',
    (name, def) => {
      const fields = def.sets(context, params[name]);
      if (def.to === 'mcpRunning') {
        expect(fields).toMatchObject({
          bridgeUrl: 'http://b',
          sandboxRef: 'r',
          runningSince: context.now,
          deployDeadlineAt: null,
        });
        return;
      }
      expect(fields).toMatchObject({ bridgeUrl: null, sandboxRef: null, runningSince: null });
      if (def.to === 'mcpDeploying') {
        expect(def.newAttempt).toBe(true);
        expect(fields.deployDeadlineAt!.getTime()).toBeGreaterThan(context.now.getTime());
      } else {
        expect(fields.deployDeadlineAt).toBeNull();
      }
      if (def.to === 'mcpPending') expect(fields.queuedAt).toEqual(context.now);
      expect(def.reason(context, params[name]).length).toBeGreaterThan(10);
    },
  );

  it('a crash back-off moves the deploy deadline by the delay; restarts count up', () => {
    const fields = TRANSITIONS.crashed.sets(context, {
      how: 'x',
      restarts: 1,
      budget: 3,
      delayMs: 2000,
    });
    expect(fields.restartCount).toBe(2);
    expect(fields.deployDeadlineAt).toEqual(new Date(context.now.getTime() + 2000 + 60_000));
    expect(
      TRANSITIONS.crashed.reason(context, {
        how: 'exited with code 1',
        restarts: 1,
        budget: 3,
        delayMs: 2000,
      }),
    ).toBe('The server exited with code 1; restarting in 2 s (restart 2 of 3).');
  });

  it('the transitions a user asks for say why they cannot happen', () => {
    expect(TRANSITIONS.userStop.refusal!('mcpStopped')).toBe('The connection is already stopped.');
    expect(TRANSITIONS.userStart.refusal!('mcpRunning')).toBe(
      'The connection is mcpRunning; only a stopped or failed connection can be started.',
    );
  });

  it('only user transitions and installs decide what the user wants', () => {
    const deciding = all.filter(([, def]) => def.desired).map(([name, def]) => [name, def.desired]);
    expect(deciding).toEqual([
      ['installed', 'running'],
      ['userStop', 'stopped'],
      ['idleStop', 'stopped'],
      ['userStart', 'running'],
    ]);
  });
});
