import { SHUTDOWN_DEADLINE_MS } from '@athenic/bootstrap';
import { EXIT_CONFIG } from '@athenic/config';
import cluster, { type Worker } from 'node:cluster';
import { pino } from 'pino';
import { RateLimiterClusterMaster } from 'rate-limiter-flexible';
import { relayPeerMessages } from './worker-peers';

/** A worker that dies is started again after a back-off doubling from 1 s to 30 s (as keep-running.js). */
const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30_000;
/** A worker up this long had a clean start: the next death waits 1 s again. */
const STABLE_MS = 60_000;

/**
 * The gateway as `count` worker processes (node:cluster), each a whole gateway app on the shared
 * port; this primary serves nothing itself. It hands connections to the workers in turn, holds
 * the rate-limit counters when there is no Redis (rate-limiter-flexible's cluster master, so the
 * workers share one count), relays what one worker must tell the others (worker-peers.ts),
 * starts a dead worker again, and on SIGTERM or SIGINT stops them all gracefully before it exits.
 * Workers exit by themselves when the primary dies (node:cluster: their IPC channel closes).
 */
export function runPrimary(count: number, logLevel: string): void {
  const log = pino({ level: logLevel, base: { service: 'api-gateway' }, messageKey: 'msg' });
  new RateLimiterClusterMaster();
  relayPeerMessages();

  let stopping = false;
  let exitCode = 0;
  let delay = FIRST_DELAY_MS;
  const startedAt = new Map<Worker, number>();
  const fork = () => startedAt.set(cluster.fork(), Date.now());

  cluster.on('exit', (worker, code, signal) => {
    const upMs = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (code === EXIT_CONFIG) {
      // Refused by its own configuration: every worker would be; stop, as a single process does.
      log.error('api-gateway worker refused its configuration; stopping');
      exitCode = EXIT_CONFIG;
      return stop('SIGTERM');
    }
    if (stopping) {
      if (code !== 0) exitCode = 1;
      if (startedAt.size === 0) process.exit(exitCode);
      return;
    }
    if (upMs >= STABLE_MS) delay = FIRST_DELAY_MS;
    log.error(
      `api-gateway worker ${worker.process.pid} died (${signal ? `signal ${signal}` : `exit code ${code}`}); starting another in ${delay / 1000} s`,
    );
    setTimeout(() => stopping || fork(), delay);
    delay = Math.min(delay * 2, MAX_DELAY_MS);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: api-gateway is stopping its ${startedAt.size} workers`);
    if (startedAt.size === 0) process.exit(exitCode);
    // Each worker closes gracefully within its own deadline; this one is a last resort.
    setTimeout(() => {
      process.stderr.write('api-gateway workers did not stop in time; killing them\n');
      for (const worker of startedAt.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS + 2000).unref();
    for (const worker of startedAt.keys()) worker.process.kill('SIGTERM');
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));

  log.info(`api-gateway: starting ${count} workers (GATEWAY_WORKERS)`);
  for (let i = 0; i < count; i++) fork();
}
