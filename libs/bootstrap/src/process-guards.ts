import type { LoggerService } from '@nestjs/common';

/**
 * What a service does with a failure nobody caught. A promise rejected with no handler is a bug
 * in one request's path, not a reason to drop every other tenant's work: it is logged (with its
 * stack, never a request body) and the service goes on. An exception thrown past the event loop
 * leaves the process in an unknown state: it is logged and the process exits 1, for whatever
 * supervises it (`npm start`'s restarts, Kubernetes, compose) to start it again.
 */
export function guardProcess(service: string, logger: LoggerService): void {
  process.on('unhandledRejection', (reason: unknown) => {
    logger.error(`Unhandled rejection in ${service} (survived): ${describe(reason)}`, 'Process');
  });
  process.on('uncaughtException', (error: Error) => {
    process.stderr.write(`${service}: uncaught exception, exiting: ${describe(error)}\n`);
    process.exit(1);
  });
}

function describe(reason: unknown): string {
  return reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
}
