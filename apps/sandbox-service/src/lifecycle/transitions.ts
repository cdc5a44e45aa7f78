import type { ConnectionStatus, DesiredState } from '@athenic/contracts';
import type { ConnectionEntity } from '../connections/connection.entity';

/**
 * Every way a connection changes status, by name (docs/lifecycle.md). Each transition declares
 * the statuses it may start from, its target, what the user is taken to want afterwards, whether
 * it is a new deploy attempt, every field it sets, and the reason recorded with it. `Lifecycle`
 * (lifecycle.ts) is the only code that applies them: no other code writes a connection's status.
 */

/** The fields a transition may set besides status, reason and generation. */
export type ConnectionFields = Partial<
  Pick<
    ConnectionEntity,
    | 'isolation'
    | 'sandboxRef'
    | 'bridgeUrl'
    | 'restartCount'
    | 'queuedAt'
    | 'deployDeadlineAt'
    | 'runningSince'
    | 'ownerId'
  >
>;

export interface TransitionContext {
  now: Date;
  /** DEPLOY_TIMEOUT_MS: how long a deploy attempt may take. */
  deployTimeoutMs: number;
  /** The replica applying it (a new deploy attempt runs in its process). */
  replica: string;
}

export interface TransitionDef<P> {
  /** The statuses it may start from; 'new' for a connection being created. */
  from: readonly (ConnectionStatus | 'new')[];
  to: ConnectionStatus;
  /** What the user wants afterwards, when the transition decides it. */
  desired?: DesiredState;
  /** Starts a new deploy attempt (the generation goes up: late results of older ones are ignored). */
  newAttempt?: boolean;
  /** The fields it sets. */
  sets: (context: TransitionContext, params: P) => ConnectionFields;
  /** The reason recorded with the status (the user reads it). */
  reason: (context: TransitionContext, params: P) => string;
  /** For transitions a user asks for: why it cannot happen from `status`. */
  refusal?: (status: ConnectionStatus) => string;
}

const define = <P = void>(def: TransitionDef<P>): TransitionDef<P> => def;

/** A connection that holds no sandbox: nothing of an earlier one may stay on its row. */
const NO_SANDBOX = {
  bridgeUrl: null,
  sandboxRef: null,
  deployDeadlineAt: null,
  runningSince: null,
  ownerId: null,
} as const;

/** A new deploy attempt, in the process of the replica that begins it. */
const attempt = (c: TransitionContext, extraMs = 0) => ({
  ...NO_SANDBOX,
  deployDeadlineAt: new Date(c.now.getTime() + extraMs + c.deployTimeoutMs),
  ownerId: c.replica,
});

/** Why a sandbox was gone: it vanished, it died with its service, or its replica is gone. */
export type LostCause = 'vanished' | 'service-restarted' | 'replica-gone';

const LOST: Record<LostCause, { redeploying: string; stopped: string }> = {
  vanished: {
    redeploying: 'The sandbox was gone; redeploying.',
    stopped: 'Stopped: the sandbox was gone and the connection was meant to be stopped.',
  },
  'service-restarted': {
    redeploying: 'The sandbox service restarted and the sandbox was gone; redeploying.',
    stopped: 'Stopped: the sandbox service restarted and the connection was meant to be stopped.',
  },
  'replica-gone': {
    redeploying: 'The sandbox-service replica that held it was gone; redeploying.',
    stopped:
      'Stopped: the sandbox-service replica that held it was gone and the connection was meant to be stopped.',
  },
};

export const TRANSITIONS = {
  /** An install was accepted: the connection queues for a sandbox slot. */
  installed: define({
    from: ['new'],
    to: 'mcpPending',
    desired: 'running',
    sets: (c) => ({ ...NO_SANDBOX, queuedAt: c.now, restartCount: 0, isolation: null }),
    reason: () => 'Installed; queued for a sandbox.',
  }),
  /** The scheduler gave it a slot: a deploy attempt starts. */
  scheduled: define({
    from: ['mcpPending'],
    to: 'mcpDeploying',
    newAttempt: true,
    sets: (c) => ({ ...attempt(c), queuedAt: null }),
    reason: () => 'Deploying: starting the server in its sandbox.',
  }),
  /** The server answered initialize and tools/list in its sandbox. */
  deployed: define<{
    tools: number;
    isolation: NonNullable<ConnectionEntity['isolation']>;
    bridgeUrl: string;
    sandboxRef: string;
  }>({
    from: ['mcpDeploying'],
    to: 'mcpRunning',
    sets: (c, p) => ({
      isolation: p.isolation,
      bridgeUrl: p.bridgeUrl,
      sandboxRef: p.sandboxRef,
      deployDeadlineAt: null,
      runningSince: c.now,
    }),
    reason: (_, p) => `Running: the server answered MCP initialize and lists ${p.tools} tool(s).`,
  }),
  /** The deploy attempt failed (the reason says why, secrets masked). */
  deployFailed: define<{ reason: string }>({
    from: ['mcpDeploying'],
    to: 'mcpError',
    sets: () => NO_SANDBOX,
    reason: (_, p) => p.reason,
  }),
  /** The deploy attempt was still not running past its deadline. */
  deadlinePassed: define({
    from: ['mcpDeploying'],
    to: 'mcpError',
    sets: () => NO_SANDBOX,
    reason: (c) =>
      `Deploy timeout: the server was not running ${Math.round(c.deployTimeoutMs / 1000)} s after its deploy started.`,
  }),
  /** The server exited or hung while running, within the crash budget: redeployed after a back-off. */
  crashed: define<{ how: string; restarts: number; budget: number; delayMs: number }>({
    from: ['mcpRunning'],
    to: 'mcpDeploying',
    newAttempt: true,
    sets: (c, p) => ({ ...attempt(c, p.delayMs), restartCount: p.restarts + 1 }),
    reason: (_, p) =>
      `The server ${p.how}; restarting in ${formatDelay(p.delayMs)} (restart ${p.restarts + 1} of ${p.budget}).`,
  }),
  /** The server exited or hung with its crash budget spent (or its user wanted it stopped). */
  crashBudgetSpent: define<{ how: string; restarts: number; tail: string }>({
    from: ['mcpRunning'],
    to: 'mcpError',
    sets: () => NO_SANDBOX,
    reason: (_, p) =>
      `The server ${p.how}${p.restarts > 0 ? ` after ${p.restarts} automatic restart(s)` : ''}${p.tail ? `: ${p.tail}` : ''}. Fix the cause, then start it again.`,
  }),
  /** The user stopped it. */
  userStop: define({
    from: ['mcpPending', 'mcpDeploying', 'mcpRunning', 'mcpError'],
    to: 'mcpStopped',
    desired: 'stopped',
    sets: () => ({ ...NO_SANDBOX, queuedAt: null }),
    reason: () => 'Stopped by user; start it again when needed.',
    refusal: (status) =>
      status === 'mcpStopped'
        ? 'The connection is already stopped.'
        : `The connection is ${status}; it cannot be stopped.`,
  }),
  /** Unused for IDLE_TIMEOUT_MS. */
  idleStop: define<{ idleMs: number }>({
    from: ['mcpRunning'],
    to: 'mcpStopped',
    desired: 'stopped',
    sets: () => NO_SANDBOX,
    reason: (_, p) =>
      `Stopped after ${formatIdle(p.idleMs)} idle (no MCP use); start it again when needed.`,
  }),
  /** Its sandbox is gone (vanished, or died with a restart of the service) and its user wants it running. */
  lost: define<{ cause: LostCause }>({
    from: ['mcpDeploying', 'mcpRunning'],
    to: 'mcpPending',
    sets: (c) => ({ ...NO_SANDBOX, queuedAt: c.now }),
    reason: (_, p) => LOST[p.cause].redeploying,
  }),
  /** Its sandbox is gone and its user wanted it stopped anyway. */
  lostWhileUnwanted: define<{ cause: LostCause }>({
    from: ['mcpDeploying', 'mcpRunning'],
    to: 'mcpStopped',
    sets: () => ({ ...NO_SANDBOX, queuedAt: null }),
    reason: (_, p) => LOST[p.cause].stopped,
  }),
  /** The user started a stopped or failed connection: a fresh crash budget. */
  userStart: define({
    from: ['mcpStopped', 'mcpError'],
    to: 'mcpPending',
    desired: 'running',
    sets: (c) => ({ ...NO_SANDBOX, queuedAt: c.now, restartCount: 0 }),
    reason: () => 'Started by user; queued for a sandbox.',
    refusal: (status) =>
      `The connection is ${status}; only a stopped or failed connection can be started.`,
  }),
  /** New credentials for a running or deploying connection: a new attempt with them. */
  credentialsReplaced: define({
    from: ['mcpRunning', 'mcpDeploying'],
    to: 'mcpDeploying',
    newAttempt: true,
    sets: (c) => attempt(c),
    reason: () => 'Credentials replaced; redeploying.',
  }),
} as const;

export type TransitionName = keyof typeof TRANSITIONS;
export type ParamsOf<N extends TransitionName> =
  (typeof TRANSITIONS)[N] extends TransitionDef<infer P> ? P : never;

/** The status graph the named transitions draw: from each status, where it can go. */
export function statusGraph(): Map<ConnectionStatus | 'new', Set<ConnectionStatus>> {
  const graph = new Map<ConnectionStatus | 'new', Set<ConnectionStatus>>();
  for (const def of Object.values(TRANSITIONS) as TransitionDef<unknown>[]) {
    for (const from of def.from) {
      const targets = graph.get(from) ?? new Set<ConnectionStatus>();
      targets.add(def.to);
      graph.set(from, targets);
    }
  }
  return graph;
}

/** Statuses that hold (or are about to hold) a sandbox slot. */
export const ACTIVE_STATUSES: readonly ConnectionStatus[] = ['mcpDeploying', 'mcpRunning'];

export function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s`;
}

function formatIdle(ms: number): string {
  return ms >= 60000 ? `${Math.round(ms / 60000)} min` : `${Math.round(ms / 1000)} s`;
}
