import type { DataSource } from 'typeorm';

/** A cheap query with a short deadline, so a dead database is reported rather than waited on. */
export async function checkDatabase(
  dataSource: DataSource,
  timeoutMs = 2000,
): Promise<{ status: 'ok' | 'error'; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    if (!dataSource.isInitialized) return { status: 'error', error: 'not connected' };
    await Promise.race([
      dataSource.query('SELECT 1'),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: 'ok' };
  } catch (error) {
    return { status: 'error', error: error instanceof Error ? error.message : String(error) };
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Connection ended unexpectedly|connect ECONNREFUSED|Client has encountered a connection error/i;

/** Whether an error means the database could not be reached (not that a query was wrong). */
export function isDatabaseUnavailable(error: unknown): boolean {
  const e = error as {
    code?: string;
    driverError?: { code?: string; message?: string };
    message?: string;
  };
  const code = e?.driverError?.code ?? e?.code;
  if (code && UNAVAILABLE_CODES.has(code)) return true;
  return UNAVAILABLE_MESSAGES.test(`${e?.message ?? ''} ${e?.driverError?.message ?? ''}`);
}
