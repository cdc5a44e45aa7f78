/**
 * The bounds that keep one bridge (one tenant's server and its clients) from blocking the event
 * loop or exhausting the memory of a process that hosts many bridges (the sandbox-service). Each
 * has a default here and an option of the same name on `BridgeOptions`.
 */
export interface BridgeLimits {
  /**
   * The longest line (in bytes, without its newline) the server may write on stdout or stderr.
   * A longer stdout line is dropped as it streams in and the request it answered gets an error;
   * a longer stderr line is cut there, with a marker. Default 8 MiB; `MCP_MAX_LINE_BYTES` in the
   * bridge process (serve.ts).
   */
  maxLineBytes: number;
  /** Sessions open at once; an `initialize` beyond it is answered 429. Default 64. */
  maxSessions: number;
  /** A session with no request, nothing in flight and no open stream for this long is dropped. Default 30 min. */
  sessionIdleMs: number;
  /**
   * A server-to-client (GET) event stream with no event written for this long is ended; the client
   * reconnects (with Last-Event-ID) when it still wants it. Heartbeats do not count. Default 5 min.
   */
  sseIdleMs: number;
  /** How often an open event stream gets a `: ping` comment, for proxies that drop quiet connections. Default 25 s. */
  sseHeartbeatMs: number;
  /**
   * Bytes an event stream may have waiting for a client that does not read; past it the stream is
   * closed (the client can resume with Last-Event-ID from the session's event buffer). Default 4 MiB.
   */
  maxSseBufferedBytes: number;
  /** Messages in one JSON-RPC batch; a larger batch is answered 400 (-32600). Default 50. */
  maxBatchMessages: number;
  /**
   * How long a request from the server (sampling, elicitation, roots) waits for its client's
   * answer; then the server gets an error (-32001) and the client `notifications/cancelled`.
   * Default 55 s: under the MCP SDK's own 60 s, so that the server hears why, never a silence.
   */
  serverRequestTimeoutMs: number;
}

export const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<BridgeLimits> = Object.freeze({
  maxLineBytes: 8 * MiB,
  maxSessions: 64,
  sessionIdleMs: 30 * 60 * 1000,
  sseIdleMs: 5 * 60 * 1000,
  sseHeartbeatMs: 25 * 1000,
  maxSseBufferedBytes: 4 * MiB,
  maxBatchMessages: 50,
  serverRequestTimeoutMs: 55 * 1000,
});

/**
 * The largest `maxLineBytes` accepted: a kept line becomes one string, and V8 strings stop at
 * about 512 MiB; no MCP message needs more than this.
 */
export const MAX_LINE_BYTES_CEILING = 256 * MiB;

/** The environment variable of the bridge process (serve.ts) that sets `maxLineBytes`. */
export const MAX_LINE_BYTES_ENV = 'MCP_MAX_LINE_BYTES';

/** A limit given a value it cannot take (`code` is stable; the message names the option). */
export class BridgeLimitError extends Error {
  readonly code = 'ERR_BRIDGE_LIMIT';

  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
    this.name = 'BridgeLimitError';
  }
}

/** The limits in force: the defaults, overridden by any given; each must be a positive integer. */
export function resolveLimits(given: Partial<BridgeLimits> = {}): BridgeLimits {
  const limits = { ...DEFAULT_LIMITS };
  for (const name of Object.keys(DEFAULT_LIMITS) as (keyof BridgeLimits)[]) {
    const value = given[name];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new BridgeLimitError(name, `${name} must be a positive integer, got ${String(value)}`);
    limits[name] = value;
  }
  if (limits.maxLineBytes > MAX_LINE_BYTES_CEILING)
    throw new BridgeLimitError(
      'maxLineBytes',
      `maxLineBytes must be at most ${MAX_LINE_BYTES_CEILING} (${formatBytes(MAX_LINE_BYTES_CEILING)})`,
    );
  return limits;
}

/**
 * A positive integer from an environment variable, or undefined when it is unset or empty.
 * Anything else (a fraction, a unit, a sign, zero, past `max`) throws a BridgeLimitError naming it.
 */
export function positiveIntegerFromEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value <= 0 || value > max)
    throw new BridgeLimitError(
      name,
      `${name} must be a positive integer of at most ${max}, got "${raw}"`,
    );
  return value;
}

/** 8388608 -> "8 MiB", 1536 -> "1.5 KiB", 100 -> "100 bytes". */
export function formatBytes(bytes: number): string {
  const unit =
    bytes >= MiB
      ? { size: MiB, name: 'MiB' }
      : bytes >= 1024
        ? { size: 1024, name: 'KiB' }
        : undefined;
  if (!unit) return `${bytes} bytes`;
  return `${Number((bytes / unit.size).toFixed(1))} ${unit.name}`;
}
