import type { INestApplicationContext, LoggerService } from '@nestjs/common';

/** The longest a service takes to stop after SIGTERM before it exits anyway. */
export const SHUTDOWN_DEADLINE_MS = 9000;

/**
 * SIGTERM or SIGINT: close the app (the bus server stops consuming and lets in-flight work
 * finish, modules stop what they run), then exit 0. A close that overruns the deadline exits 1
 * saying so, so a stop never takes more than about ten seconds. Used instead of Nest's shutdown
 * hooks, which re-raise the signal and so hide whether the close went well.
 */
export function closeOnSignals(
  app: INestApplicationContext,
  service: string,
  logger: LoggerService,
): void {
  let closing = false;
  const close = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal}: ${service} is stopping`, 'Shutdown');
    const deadline = setTimeout(() => {
      process.stderr.write(
        `${service} did not stop within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting anyway\n`,
      );
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    app.close().then(
      () => {
        logger.log(`${service} stopped`, 'Shutdown');
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`${service} failed to stop cleanly: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', close);
  process.once('SIGINT', close);
}
