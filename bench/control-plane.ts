// The sandbox service's control plane at scale, in simulation (docs/capacity.md): R replicas of
// the real lifecycle (Lifecycle, Scheduler, Deployer, Supervisor, ConnectionsService) on one real
// Postgres, with a provider that deploys instantly and starts no process, and N connections
// across A accounts. Measures install and deploy throughput, then how long one round of each
// periodic job takes on each replica beside the interval it must fit in (scheduler 2 s,
// reconciliation, health checks and the idle reaper 30 s by default), and the database work per
// install. Baseline in the same run: one replica.
//   npm run bench:control-plane [-- --connections 5000 --replicas 4 --accounts 50 --rounds 3]
import 'reflect-metadata';
import { queryDatabase } from '@athenic/testing';
import { performance } from 'node:perf_hooks';
import { FakeProvider } from '../apps/sandbox-service/test/lifecycle/fake-provider';
import {
  LifecycleHarness,
  type LifecycleParts,
} from '../apps/sandbox-service/test/lifecycle/harness';
import { fixed, summarize } from './stats';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return Number(at >= 0 ? process.argv[at + 1] : fallback);
}

const CONNECTIONS = option('connections', 5000);
const REPLICAS = option('replicas', 4);
const ACCOUNTS = option('accounts', 50);
const ROUNDS = option('rounds', 3);
const CONCURRENCY = 16;
/** The production defaults the rounds must fit in. */
const INTERVALS_MS = { scheduler: 2000, reconcile: 30_000, health: 30_000, idle: 30_000 };

interface Figures {
  replicas: number;
  installsPerS: number;
  deploysPerS: number;
  startedTwice: number;
  commitsPerInstall: number;
  rounds: Record<keyof typeof INTERVALS_MS, number[]>;
}

async function commits(h: LifecycleHarness): Promise<number> {
  const [row] = await queryDatabase<{ n: string }>(
    h.infra.databaseUrl,
    'SELECT xact_commit::text AS n FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(row.n);
}

async function simulate(replicas: number): Promise<Figures> {
  const h = new LifecycleHarness(`bench-control-plane-${replicas}`, {
    MAX_SANDBOXES: String(CONNECTIONS * 2),
    MAX_SANDBOXES_PER_ACCOUNT: String(CONNECTIONS),
    MAX_CONNECTIONS_PER_ACCOUNT: String(CONNECTIONS),
    IDLE_TIMEOUT_MS: String(24 * 3600 * 1000),
  });
  await h.start();
  try {
    const parts: LifecycleParts[] = [h.parts];
    for (let i = 1; i < replicas; i++) {
      const part = h.assemble(new FakeProvider(), `replica-${i}`);
      await part.replicas.join();
      parts.push(part);
    }
    // Installs through every replica in turn, CONCURRENCY at a time; scheduling runs meanwhile as
    // in production (each install kicks its replica's scheduler).
    const before = await commits(h);
    const installStart = performance.now();
    let next = 0;
    let failed = 0;
    let firstFailure = '';
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < CONNECTIONS; i = next++) {
          await parts[i % replicas].connections
            .install({
              account_id: `acct-${i % ACCOUNTS}`,
              mcp_server_id: 'fake-server',
              title: `c${i}`,
              config: {},
              sealed_credentials: { token: 't' },
              actor: 'bench',
            } as never)
            .catch((error: unknown) => {
              // Counted and shown: an overloaded database is a finding, not a crash of the bench.
              failed++;
              firstFailure ||= error instanceof Error ? error.message : String(error);
            });
        }
      }),
    );
    const installS = (performance.now() - installStart) / 1000;
    if (failed > 0)
      console.log(`  ${replicas} replica(s): ${failed} install(s) failed (${firstFailure})`);
    const commitsPerInstall = ((await commits(h)) - before) / CONNECTIONS;
    for (;;) {
      await Promise.all(parts.map((p) => h.schedule(p)));
      const [{ n }] = await queryDatabase<{ n: string }>(
        h.infra.databaseUrl,
        `SELECT count(*)::text AS n FROM sandbox.connections WHERE status <> 'mcpRunning'`,
      );
      if (n === '0') break;
    }
    const deployS = (performance.now() - installStart) / 1000;
    const started = new Map<string, number>();
    for (const part of parts)
      for (const handle of part.provider.handles)
        started.set(handle.spec.connectionId, (started.get(handle.spec.connectionId) ?? 0) + 1);
    const rounds: Figures['rounds'] = { scheduler: [], reconcile: [], health: [], idle: [] };
    const time = async (list: number[], work: () => Promise<unknown>) => {
      const at = performance.now();
      await work();
      list.push(performance.now() - at);
    };
    for (let r = 0; r < ROUNDS; r++) {
      // Every replica runs each job at once, as their timers would line up at worst.
      for (const [name, job] of [
        ['scheduler', (p: LifecycleParts) => p.scheduler.tick()],
        ['reconcile', (p: LifecycleParts) => p.supervisor.reconcile()],
        ['health', (p: LifecycleParts) => p.supervisor.checkHealth()],
        ['idle', (p: LifecycleParts) => p.supervisor.reapIdle()],
      ] as const)
        await Promise.all(parts.map((p) => time(rounds[name], () => job(p))));
    }
    return {
      replicas,
      installsPerS: CONNECTIONS / installS,
      deploysPerS: CONNECTIONS / deployS,
      startedTwice:
        [...started.values()].filter((n) => n > 1).length + (CONNECTIONS - failed - started.size),
      commitsPerInstall,
      rounds,
    };
  } finally {
    await h.stop();
  }
}

async function main(): Promise<void> {
  console.log(
    `control plane: ${CONNECTIONS} connections, ${ACCOUNTS} accounts, instant fake provider, real Postgres; rounds: ${ROUNDS}`,
  );
  const results = [await simulate(1)];
  if (REPLICAS > 1) results.push(await simulate(REPLICAS));
  console.log('');
  console.log('replicas  installs/s  to running/s  not started once  db commits/install');
  for (const r of results)
    console.log(
      `${String(r.replicas).padStart(8)}  ${fixed(r.installsPerS, 0).padStart(10)}  ${fixed(r.deploysPerS, 0).padStart(12)}  ${String(r.startedTwice).padStart(16)}  ${fixed(r.commitsPerInstall, 1).padStart(18)}`,
    );
  console.log('');
  console.log('one round of each job, per replica (ms): p50 / max, beside its interval');
  for (const r of results) {
    for (const [name, samples] of Object.entries(r.rounds)) {
      const s = summarize(samples);
      const interval = INTERVALS_MS[name as keyof typeof INTERVALS_MS];
      const worst = Math.max(...samples);
      console.log(
        `  ${r.replicas} replica(s) ${name.padEnd(10)} ${fixed(s.p50, 1).padStart(8)} / ${fixed(worst, 1).padStart(8)}   interval ${interval} ms  (${fixed((worst / interval) * 100, 1)}% of it at worst)`,
      );
    }
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
