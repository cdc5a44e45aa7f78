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
