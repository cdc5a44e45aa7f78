import { DomainError } from '@athenic/contracts';
import { eventually } from '@athenic/testing';
import { FakeProvider } from './fake-provider';
import { CANARY, LifecycleHarness } from './harness';

// The lifecycle's own tier (docs/lifecycle.md): the real Lifecycle, Scheduler, Deployer,
// Supervisor, Reconciler and ConnectionsService on a real Postgres, with a provider that starts
// no process and a clock the test moves. Every named transition, the crash budget, the idle stop,
// the deploy deadline and the cross-replica operation lease.

const codeOf = async (work: Promise<unknown>) => {
  try {
    await work;
  } catch (error) {
    return error instanceof DomainError ? `${error.code}: ${error.message}` : String(error);
  }
  return 'no error';
};

describe('the connection lifecycle (real Postgres, fake provider, manual clock)', () => {
  const h = new LifecycleHarness('lifecycle', {
    MAX_SANDBOXES: '50',
    MAX_SANDBOXES_PER_ACCOUNT: '10',
    DEPLOY_TIMEOUT_MS: '30000',
    CRASH_BUDGET: '2',
    RESTART_BACKOFF_MS: '1000',
    IDLE_TIMEOUT_MS: '600000',
    HEALTH_CHECK_TIMEOUT_MS: '2000',
  });

  beforeAll(() => h.start(), 60_000);
  afterAll(() => h.stop());

  async function running(account: string) {
    const row = await h.install(account);
    await h.schedule();
    expect((await h.row(row.id)).status).toBe('mcpRunning');
    return h.row(row.id);
  }

  it('installed, scheduled, deployed: each with its event, its fields and its reason', async () => {
    const installed = await h.install('acct-happy');
    expect(installed).toMatchObject({
      status: 'mcpPending',
      desired_state: 'running',
      status_reason: 'Installed; queued for a sandbox.',
    });
    await h.schedule();
    const row = await h.row(installed.id);
    const [handle] = h.provider.live(installed.id);
    expect(row).toMatchObject({
      status: 'mcpRunning',
      generation: 1,
      queuedAt: null,
      deployDeadlineAt: null,
      bridgeUrl: handle.bridgeUrl,
      sandboxRef: handle.ref,
      isolation: 'bubblewrap',
      runningSince: new Date(h.clock.now()),
    });
    // The credential reached the sandbox's environment, resolved from the type's launch.
    expect(handle.spec.env).toEqual({ TOKEN: CANARY });
    expect(await h.history(installed.id)).toEqual([
      [null, 'mcpPending', 'Installed; queued for a sandbox.'],
      ['mcpPending', 'mcpDeploying', 'Deploying: starting the server in its sandbox.'],
      [
        'mcpDeploying',
        'mcpRunning',
        'Running: the server answered MCP initialize and lists 2 tool(s).',
      ],
    ]);
  });

  it('deployFailed: mcpError with the reason, secrets masked, nothing left running', async () => {
    h.provider.failNext('acct-fail', `The server exited with code 3: bad token ${CANARY}`);
    const row = await h.install('acct-fail');
    await h.schedule();
    const failed = await h.row(row.id);
    expect(failed).toMatchObject({ status: 'mcpError', deployDeadlineAt: null, bridgeUrl: null });
    expect(failed.statusReason).toBe('The server exited with code 3: bad token [secret]');
    expect(h.parts.runtime.get(row.id)).toBeUndefined();
  });

  it('crashed within the budget: redeployed after the back-off on the clock, then crashBudgetSpent', async () => {
    const row = await running('acct-crash');
    h.provider.live(row.id)[0].crash({ code: 1, signal: null });
    const restarting = await eventually(async () => {
      const now = await h.row(row.id);
      expect(now.status).toBe('mcpDeploying');
      return now;
    });
    expect(restarting).toMatchObject({
      restartCount: 1,
      generation: 2,
      bridgeUrl: null,
      runningSince: null,
    });
    expect(restarting.statusReason).toBe(
      'The server exited with code 1; restarting in 1 s (restart 1 of 2).',
    );
    // Nothing starts before the back-off has passed on the clock.
    await h.clock.advance(999);
    expect(h.provider.startsOf(row.id)).toBe(1);
    await h.clock.advance(1);
    await h.until(row.id, 'mcpRunning');
    expect(h.provider.startsOf(row.id)).toBe(2);

    // The second crash waits 2 s (doubling), the third spends the budget of 2.
    h.provider.live(row.id)[0].crash({ code: 1, signal: null });
    await eventually(async () => expect((await h.row(row.id)).restartCount).toBe(2));
    expect((await h.row(row.id)).statusReason).toContain('restarting in 2 s (restart 2 of 2)');
    await h.clock.advance(2000);
    await h.until(row.id, 'mcpRunning');
    h.provider.live(row.id)[0].crash({ code: 7, signal: null }, ['Error: out of cheese']);
    const failed = await eventually(async () => {
      const now = await h.row(row.id);
      expect(now.status).toBe('mcpError');
      return now;
    });
    expect(failed.statusReason).toBe(
      'The server exited with code 7 after 2 automatic restart(s): Error: out of cheese. Fix the cause, then start it again.',
    );
    // No restart is left waiting on the clock.
    await h.clock.advance(60_000);
    expect(h.provider.startsOf(row.id)).toBe(3);
    expect((await h.row(row.id)).status).toBe('mcpError');
  });

  it('a crash after a long healthy run starts a fresh budget', async () => {
    const row = await running('acct-stable');
    h.provider.live(row.id)[0].crash();
    await eventually(async () => expect((await h.row(row.id)).restartCount).toBe(1));
    await h.clock.advance(1000);
    await h.until(row.id, 'mcpRunning');
    await h.clock.advance(61_000);
    h.provider.live(row.id)[0].crash();
    await eventually(async () => expect((await h.row(row.id)).status).toBe('mcpDeploying'));
    expect((await h.row(row.id)).restartCount).toBe(1);
    await h.clock.advance(1000);
    await h.until(row.id, 'mcpRunning');
  });

  it('userStop and userStart: desired state, sandbox stopped, files discarded, no restart; refusals name the status', async () => {
    const row = await running('acct-stop');
    const [handle] = h.provider.live(row.id);
    const stopped = await h.parts.connections.stop({
      id: row.id,
      account_id: 'acct-stop',
      actor: 't',
    } as never);
    expect(stopped).toMatchObject({ status: 'mcpStopped', desired_state: 'stopped' });
    expect(handle.stopped).toBe(true);
    expect(h.provider.discarded).toContain(row.id);
    await h.clock.advance(10_000);
    expect(h.provider.startsOf(row.id)).toBe(1);
    expect(await h.row(row.id)).toMatchObject({
      bridgeUrl: null,
      sandboxRef: null,
      runningSince: null,
    });

    expect(
      await codeOf(h.parts.connections.stop({ id: row.id, account_id: 'acct-stop' } as never)),
    ).toBe('invalid_transition: The connection is already stopped.');
    // Another account's connection does not exist for it.
    expect(
      await codeOf(h.parts.connections.start({ id: row.id, account_id: 'acct-other' } as never)),
    ).toMatch(/^not_found/);
    const started = await h.parts.connections.start({
      id: row.id,
      account_id: 'acct-stop',
    } as never);
    expect(started).toMatchObject({ status: 'mcpPending', desired_state: 'running' });
    // (the start's own scheduling pass may have begun the deploy already)
    expect(
      await codeOf(h.parts.connections.start({ id: row.id, account_id: 'acct-stop' } as never)),
    ).toMatch(
      /^invalid_transition: The connection is mcp(Pending|Deploying|Running); only a stopped or failed connection can be started\.$/,
    );
    await h.schedule();
    expect(await h.row(row.id)).toMatchObject({ status: 'mcpRunning', restartCount: 0 });
  });

  it('idleStop: unused for IDLE_TIMEOUT_MS on the clock is stopped; a used one keeps running', async () => {
    const idle = await running('acct-idle');
    const used = await running('acct-idle');
    await h.clock.advance(599_000);
    h.provider.live(used.id)[0].activity = h.clock.now();
    await h.parts.supervisor.reapIdle();
    expect((await h.row(idle.id)).status).toBe('mcpRunning');
    await h.clock.advance(2_000);
    await h.parts.supervisor.reapIdle();
    expect(await h.row(idle.id)).toMatchObject({
      status: 'mcpStopped',
      desiredState: 'stopped',
      statusReason: 'Stopped after 10 min idle (no MCP use); start it again when needed.',
    });
    expect(h.provider.live(idle.id)).toEqual([]);
    expect((await h.row(used.id)).status).toBe('mcpRunning');
  });

  it('deadlinePassed: a deploy still not running past its deadline fails and is cancelled', async () => {
    const gate = h.provider.holdNext('acct-slow');
    const row = await h.install('acct-slow');
    h.parts.scheduler.kick();
    await h.parts.scheduler.settled();
    expect((await h.row(row.id)).status).toBe('mcpDeploying');
    await h.clock.advance(30_000 + 1_000);
    await h.parts.supervisor.reconcile();
    expect((await h.row(row.id)).status).toBe('mcpDeploying'); // within the grace
    await h.clock.advance(1_500);
    await h.parts.supervisor.reconcile();
    expect(await h.row(row.id)).toMatchObject({
      status: 'mcpError',
      statusReason: 'Deploy timeout: the server was not running 30 s after its deploy started.',
    });
    // The attempt was cancelled: no sandbox comes up for it later.
    gate.release();
    await h.deploysSettled();
    expect(h.provider.live(row.id)).toEqual([]);
    expect(h.parts.runtime.get(row.id)).toBeUndefined();
    expect((await h.row(row.id)).status).toBe('mcpError');
  });

  it('credentialsReplaced: a running or deploying connection redeploys with the new values', async () => {
    const row = await running('acct-creds');
    const [old] = h.provider.live(row.id);
    await h.parts.connections.replaceCredentials({
      id: row.id,
      account_id: 'acct-creds',
      sealed_credentials: { token: 'second' },
      actor: 't',
    } as never);
    await h.deploysSettled();
    expect(old.stopped).toBe(true);
    expect(h.provider.live(row.id).map((x) => x.spec.env.TOKEN)).toEqual(['second']);
    expect(await h.row(row.id)).toMatchObject({
      status: 'mcpRunning',
      generation: row.generation + 1,
    });

    // While deploying: the attempt in flight is dropped, a new one starts.
    const gate = h.provider.holdNext(row.id);
    await h.parts.connections.replaceCredentials({
      id: row.id,
      account_id: 'acct-creds',
      sealed_credentials: { token: 'third' },
      actor: 't',
    } as never);
    expect((await h.row(row.id)).status).toBe('mcpDeploying');
    await h.parts.connections.replaceCredentials({
      id: row.id,
      account_id: 'acct-creds',
      sealed_credentials: { token: 'fourth' },
      actor: 't',
    } as never);
    gate.release();
    await h.deploysSettled();
    expect(h.provider.live(row.id).map((x) => x.spec.env.TOKEN)).toEqual(['fourth']);
    const events = (await h.history(row.id)).filter(([, , reason]) =>
      reason.startsWith('Credentials'),
    );
    expect(events).toEqual([
      ['mcpRunning', 'mcpDeploying', 'Credentials replaced; redeploying.'],
      ['mcpRunning', 'mcpDeploying', 'Credentials replaced; redeploying.'],
      ['mcpDeploying', 'mcpDeploying', 'Credentials replaced; redeploying.'],
    ]);
  });

  it('unhealthy: three failed pings stop the server, which then counts as a crash', async () => {
    const row = await running('acct-hung');
    const [handle] = h.provider.live(row.id);
    handle.pingFailure = 'MCP ping timed out';
    await h.parts.supervisor.checkHealth();
    await h.parts.supervisor.checkHealth();
    expect((await h.row(row.id)).status).toBe('mcpRunning');
    await h.clock.runUntilSettled(h.parts.supervisor.checkHealth());
    const restarting = await eventually(async () => {
      const now = await h.row(row.id);
      expect(now.status).toBe('mcpDeploying');
      return now;
    });
    expect(restarting.statusReason).toMatch(
      /^The server stopped answering MCP pings \(3 failed in a row\); restarting in 1 s/,
    );
    await h.clock.advance(1000);
    await h.until(row.id, 'mcpRunning');
  });

  it('a user operation holds its connection on every replica until it ends or its lease expires', async () => {
    const row = await running('acct-lease');
    const replica = h.assemble(h.provider);
    let finish!: () => void;
    const held = new Promise<void>((resolve) => (finish = resolve));
    const first = h.parts.lifecycle.exclusively(row.id, 'acct-lease', () => held);
    await eventually(async () => expect((await h.row(row.id)).operationId).not.toBeNull());
    expect(
      await codeOf(replica.connections.stop({ id: row.id, account_id: 'acct-lease' } as never)),
    ).toMatch(/^operation_in_progress/);
    // The platform's own operations (an idle stop) skip it meanwhile.
    expect(await replica.lifecycle.whenFree(row.id, async () => 'ran')).toEqual({ ran: false });
    finish();
    await first;
    expect((await h.row(row.id)).operationId).toBeNull();
    expect(await replica.lifecycle.whenFree(row.id, async () => 'ran')).toEqual({
      ran: true,
      value: 'ran',
    });

    // A replica that died mid-operation: its lease ends on its own.
    const stuck = h.parts.lifecycle.exclusively(
      row.id,
      'acct-lease',
      () => new Promise<never>(() => undefined),
    );
    void stuck;
    await eventually(async () => expect((await h.row(row.id)).operationId).not.toBeNull());
    expect(await replica.lifecycle.whenFree(row.id, async () => 'ran')).toEqual({ ran: false });
    await h.clock.advance(120_001);
    expect(await replica.lifecycle.whenFree(row.id, async () => 'ran')).toEqual({
      ran: true,
      value: 'ran',
    });
  });

  it('lost (vanished): a running connection with no sandbox is redeployed; lostWhileUnwanted when meant stopped', async () => {
    const wanted = await running('acct-lost');
    const unwanted = await running('acct-lost');
    await h.parts.lifecycle.want(unwanted.id, 'stopped');
    // Another process that holds neither (what a vanished sandbox looks like to the supervisor).
    const other = h.assemble(new FakeProvider());
    await other.supervisor.reconcile();
    expect(await h.history(wanted.id)).toContainEqual([
      'mcpRunning',
      'mcpPending',
      'The sandbox was gone; redeploying.',
    ]);
    // Redeployed by the process that found it gone.
    await h.schedule(other);
    expect((await h.row(wanted.id)).status).toBe('mcpRunning');
    expect(await h.row(unwanted.id)).toMatchObject({
      status: 'mcpStopped',
      statusReason: 'Stopped: the sandbox was gone and the connection was meant to be stopped.',
    });
  });

  it('delete: the row, its history and its files go; a deletion is announced', async () => {
    const row = await running('acct-delete');
    await h.parts.connections.delete({
      id: row.id,
      account_id: 'acct-delete',
      actor: 't',
    } as never);
    expect(await h.parts.store.findOptional(row.id)).toBeNull();
    expect(await h.parts.store.events(row.id)).toEqual([]);
    expect(h.provider.live(row.id)).toEqual([]);
    expect(h.provider.discarded).toContain(row.id);
  });
});

describe('the lifecycle across a restart of the service', () => {
  const h = new LifecycleHarness('lifecycle-restart', { MAX_SANDBOXES: '10' });

  beforeAll(() => h.start(), 60_000);
  afterAll(() => h.stop());

  it('local sandboxes died with the process: lost (service-restarted) and redeployed once; stopped ones stay stopped', async () => {
    const a = await h.install('acct-r');
    const b = await h.install('acct-r');
    await h.schedule();
    await h.parts.lifecycle.want(b.id, 'stopped');
    h.provider.dieWithProcess();
    const next = new FakeProvider();
    const after = h.assemble(next);
    await after.reconciler.atStart();
    expect((await h.history(a.id)).slice(-1)[0]).toEqual([
      'mcpRunning',
      'mcpPending',
      'The sandbox service restarted and the sandbox was gone; redeploying.',
    ]);
    expect(await h.row(b.id)).toMatchObject({
      status: 'mcpStopped',
      statusReason:
        'Stopped: the sandbox service restarted and the connection was meant to be stopped.',
    });
    await h.schedule(after);
    expect((await h.row(a.id)).status).toBe('mcpRunning');
    expect(next.startsOf(a.id)).toBe(1);
    expect(next.startsOf(b.id)).toBe(0);
  });

  it('sandboxes that survive a restart (E2B) are adopted in place, not redeployed; orphans are killed', async () => {
    h.provider.survivesRestart = true;
    const row = await h.install('acct-e2b');
    await h.schedule();
    const [handle] = h.provider.live(row.id);
    // An orphan: a sandbox no connection claims.
    await h.provider.start(
      { ...handle.spec, connectionId: 'd2b0c1c4-0000-4000-8000-000000000000' },
      1000,
      handle.hooks,
      new AbortController().signal,
    );
    const after = h.assemble(h.provider);
    await after.reconciler.atStart();
    expect(handle.adoptions).toBe(1);
    expect(await h.row(row.id)).toMatchObject({ status: 'mcpRunning', sandboxRef: handle.ref });
    expect(h.provider.startsOf(row.id)).toBe(1);
    expect(h.provider.killed).toEqual(['d2b0c1c4-0000-4000-8000-000000000000']);
    h.provider.survivesRestart = false;
  });
});

describe('the scheduler within MAX_SANDBOXES and MAX_SANDBOXES_PER_ACCOUNT', () => {
  const h = new LifecycleHarness('lifecycle-capacity', {
    MAX_SANDBOXES: '2',
    MAX_SANDBOXES_PER_ACCOUNT: '1',
  });

  beforeAll(() => h.start(), 60_000);
  afterAll(() => h.stop());

  it('queues in install order with positions and reasons, and starts the next when a slot frees up', async () => {
    const a1 = await h.install('acct-a');
    await h.clock.advance(1);
    const a2 = await h.install('acct-a');
    await h.clock.advance(1);
    const b1 = await h.install('acct-b');
    await h.clock.advance(1);
    const c1 = await h.install('acct-c');
    await h.schedule();
    expect((await h.row(a1.id)).status).toBe('mcpRunning');
    expect((await h.row(b1.id)).status).toBe('mcpRunning');
    // Its reason names the limit that held it back in the last pass (the account's, or the platform's).
    expect((await h.row(a2.id)).statusReason).toMatch(
      /^Waiting for a sandbox slot: position 1 in the queue \((all 2 sandbox slots of the platform are in use|the account already runs its limit of 1 sandboxes)\); it starts by itself when one frees up\.$/,
    );
    expect((await h.row(c1.id)).statusReason).toContain('position 2 in the queue');
    await h.parts.connections.stop({ id: b1.id, account_id: 'acct-b', actor: 't' } as never);
    await h.schedule();
    // acct-a still runs its one sandbox: c1 goes first, a2 waits on its account's limit.
    expect((await h.row(c1.id)).status).toBe('mcpRunning');
    expect(await h.row(a2.id)).toMatchObject({ status: 'mcpPending' });
    expect((await h.row(a2.id)).statusReason).toContain('position 1 in the queue');
  });
});

describe('replicas of the sandbox service on one database', () => {
  const h = new LifecycleHarness('lifecycle-replicas', {
    MAX_SANDBOXES: '3',
    MAX_SANDBOXES_PER_ACCOUNT: '3',
    REPLICA_LEASE_MS: '30000',
  });

  beforeAll(() => h.start(), 60_000);
  afterAll(() => h.stop());

  async function clear() {
    for (const row of await h.parts.store.inStatus([
      'mcpPending',
      'mcpDeploying',
      'mcpRunning',
      'mcpError',
    ]))
      await h.parts.connections.delete({
        id: row.id,
        account_id: row.accountId,
        actor: 't',
      } as never);
  }

  it('holds a scheduling pass at a time: MAX_SANDBOXES holds across replicas', async () => {
    const b = h.assemble(new FakeProvider(), 'replica-b');
    await b.replicas.join();
    h.provider.holdNext('acct-cap-1');
    for (const account of ['acct-cap-1', 'acct-cap-2', 'acct-cap-3']) {
      // Installed on each replica in turn; both schedule at once.
      await h.install(account);
      await h.install(account);
    }
    await Promise.all([
      h.parts.scheduler.tick(),
      b.scheduler.tick(),
      h.parts.scheduler.tick(),
      b.scheduler.tick(),
    ]);
    await h.parts.scheduler.settled();
    const active = await h.parts.store.inStatus(['mcpDeploying', 'mcpRunning']);
    expect(active).toHaveLength(3);
    b.replicas.stop();
    await clear();
  });

  it("a live replica's connections are left alone by the others, sandboxes included", async () => {
    const e2b = new FakeProvider();
    e2b.survivesRestart = true;
    const a = h.assemble(e2b, 'replica-a');
    const b = h.assemble(e2b, 'replica-b');
    await b.replicas.join();
    const installed = await h.install('acct-live', a);
    await h.schedule(a);
    const held = await h.row(installed.id);
    expect(held).toMatchObject({ status: 'mcpRunning', ownerId: 'replica-a' });
    await b.supervisor.reconcile();
    await b.reconciler.atStart();
    expect(await h.row(held.id)).toMatchObject({
      status: 'mcpRunning',
      ownerId: 'replica-a',
      generation: held.generation,
    });
    expect(e2b.killed).toEqual([]);
    expect(e2b.live(held.id)[0].adoptions).toBe(0);
    b.replicas.stop();
    await a.connections.delete({ id: held.id, account_id: 'acct-live', actor: 't' } as never);
  });

  it("when a replica's lease ends, the survivor redeploys its local sandboxes once, a deploy in flight included", async () => {
    const dying = new FakeProvider();
    const a = h.assemble(dying, 'replica-dying');
    await a.replicas.join();
    const b = h.assemble(new FakeProvider(), 'replica-survivor');
    await b.replicas.join();
    const running = (await h.install('acct-gone-1', a)).id;
    await h.schedule(a);
    dying.holdNext('acct-gone-2');
    const deploying = (await h.install('acct-gone-2', a)).id;
    await a.scheduler.settled();
    expect((await h.row(deploying)).status).toBe('mcpDeploying');

    // kill -9: no lease given up, the local servers die with it.
    a.replicas.stop();
    dying.dieWithProcess();
    await b.supervisor.reconcile();
    expect((await h.row(running)).ownerId).toBe('replica-dying'); // its lease still holds
    await h.clock.advance(30_001);
    await b.replicas.heartbeat();
    await b.supervisor.reconcile();
    await h.schedule(b);
    for (const id of [running, deploying]) {
      expect(await h.row(id)).toMatchObject({ status: 'mcpRunning', ownerId: 'replica-survivor' });
      expect(await h.history(id)).toContainEqual([
        expect.any(String),
        'mcpPending',
        'The sandbox-service replica that held it was gone; redeploying.',
      ]);
      expect(b.provider.startsOf(id)).toBe(1);
    }
    b.replicas.stop();
    await clear();
  });

  it("a stop or delete handled by another replica stops the holder's sandbox as soon as it hears of it", async () => {
    const holding = new FakeProvider();
    const a = h.assemble(holding, 'replica-holder');
    await a.replicas.join();
    const b = h.assemble(new FakeProvider(), 'replica-other');
    await b.replicas.join();
    const install = async () => (await h.install('acct-release', a)).id;
    const stopped = await install();
    const deleted = await install();
    await h.schedule(a);
    await b.connections.stop({ id: stopped, account_id: 'acct-release', actor: 't' } as never);
    await b.connections.delete({ id: deleted, account_id: 'acct-release', actor: 't' } as never);
    // Still running where they ran until the holder hears of it (ReleaseListener: every replica
    // gets every change), then gone, with their files.
    expect(holding.live(stopped)).toHaveLength(1);
    expect(holding.live(deleted)).toHaveLength(1);
    for (const id of [stopped, deleted]) await a.supervisor.releaseIfNotHeld(id);
    expect(holding.live(stopped)).toEqual([]);
    expect(holding.live(deleted)).toEqual([]);
    expect(holding.discarded).toEqual(expect.arrayContaining([stopped, deleted]));
    // A change that leaves the connection with its holder changes nothing there. (B's stop and
    // delete kicked B's scheduler: its passes end first, so the next install is A's to deploy.)
    await b.scheduler.settled();
    const kept = await install();
    await h.schedule(a);
    await a.supervisor.releaseIfNotHeld(kept);
    expect(holding.live(kept)).toHaveLength(1);
    a.replicas.stop();
    b.replicas.stop();
    await clear();
  });

  it("when a replica's lease ends, its E2B sandboxes are adopted in place by one survivor", async () => {
    const e2b = new FakeProvider();
    e2b.survivesRestart = true;
    const a = h.assemble(e2b, 'replica-e2b-dying');
    await a.replicas.join();
    const b = h.assemble(e2b, 'replica-e2b-1');
    const c = h.assemble(e2b, 'replica-e2b-2');
    await b.replicas.join();
    await c.replicas.join();
    const id = (await h.install('acct-adopt', a)).id;
    await h.schedule(a);
    const [sandbox] = e2b.live(id);
    a.replicas.stop();
    await h.clock.advance(30_001);
    // The live replicas' heartbeats of that time have landed (the manual clock jumps 30 s at
    // once; their writes would otherwise race the reconciliations that read the leases).
    await Promise.all([b.replicas.heartbeat(), c.replicas.heartbeat()]);
    await Promise.all([b.supervisor.reconcile(), c.supervisor.reconcile()]);
    const row = await h.row(id);
    expect(row).toMatchObject({ status: 'mcpRunning', sandboxRef: sandbox.ref });
    expect(['replica-e2b-1', 'replica-e2b-2']).toContain(row.ownerId);
    expect(sandbox.adoptions).toBe(1);
    expect(e2b.startsOf(id)).toBe(1);
    expect(e2b.killed).toEqual([]);
    b.replicas.stop();
    c.replicas.stop();
  });
});
