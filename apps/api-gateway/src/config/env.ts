import proxyaddr from 'proxy-addr';
import type { IncomingMessage } from 'node:http';
import { CheckedBy, CommonEnv, resolvePlatformSecrets, validateEnv } from '@athenic/config';
import { IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';
import { availableParallelism } from 'node:os';
import * as fs from 'node:fs';
import * as path from 'node:path';

export class GatewayEnv extends CommonEnv {
  @IsInt({ message: 'PORT must be an integer' })
  @Min(1)
  @Max(65535)
  PORT: number = 3000;

  /** Base of the URLs handed to users (`mcp_url`); defaults to http://localhost:<PORT>. */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { message: 'PUBLIC_BASE_URL must be an http(s) URL' })
  PUBLIC_BASE_URL?: string = undefined;

  /** Deadline of each request the gateway sends over the bus. */
  @IsInt({ message: 'REQUEST_TIMEOUT_MS must be an integer' })
  @Min(100)
  @Max(120000)
  REQUEST_TIMEOUT_MS: number = 5000;

  /** Local state of the platform in development (generated secrets). */
  @IsString()
  @MinLength(1)
  DATA_DIR: string = '.data';

  /**
   * Proxies in front of the gateway whose X-Forwarded-For is believed, so per-address limits
   * count the client, not the proxy: comma-separated addresses, CIDRs or proxy-addr's names
   * (`loopback`, `linklocal`, `uniquelocal`). Empty: none (the socket's address counts).
   */
  @IsOptional()
  @CheckedBy('trustedProxies', trustedProxiesProblem)
  TRUSTED_PROXIES?: string = undefined;

  /**
   * Browser origins allowed on the MCP endpoint, comma-separated (`https://app.example.com`);
   * the gateway's own public origin always is. A request without Origin (not a browser) passes.
   */
  @IsOptional()
  @Matches(/^\s*https?:\/\/[^\s/,]+\s*(,\s*https?:\/\/[^\s/,]+\s*)*$/, {
    message:
      'ALLOWED_ORIGINS must be a comma-separated list of origins such as https://app.example.com',
  })
  ALLOWED_ORIGINS?: string = undefined;

  /** Deadline of a request forwarded to a connection's MCP server (until its answer begins). */
  @IsInt({ message: 'MCP_REQUEST_TIMEOUT_MS must be an integer' })
  @Min(1000)
  @Max(3_600_000)
  MCP_REQUEST_TIMEOUT_MS: number = 300_000;

  /** The largest JSON answer of an MCP server the gateway passes on (streams are not buffered). */
  @IsInt({ message: 'MCP_RESPONSE_LIMIT_BYTES must be an integer' })
  @Min(65_536)
  @Max(1_073_741_824)
  MCP_RESPONSE_LIMIT_BYTES: number = 16 * 1024 * 1024;

  /**
   * MCP requests (JSON-RPC requests, not notifications or answers) of one account forwarded at
   * once, per gateway process; the next ones wait their turn.
   */
  @IsInt({ message: 'MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT must be an integer' })
  @Min(1)
  @Max(10_000)
  MCP_REQUESTS_IN_FLIGHT_PER_ACCOUNT: number = 8;

  /** MCP requests of one account waiting for a turn, per gateway process; past it, 429. */
  @IsInt({ message: 'MCP_REQUESTS_QUEUED_PER_ACCOUNT must be an integer' })
  @Min(0)
  @Max(100_000)
  MCP_REQUESTS_QUEUED_PER_ACCOUNT: number = 64;

  /** Connections the gateway keeps to each MCP server: one server's streams cannot take another's. */
  @IsInt({ message: 'MCP_CONNECTIONS_PER_SERVER must be an integer' })
  @Min(1)
  @Max(1024)
  MCP_CONNECTIONS_PER_SERVER: number = 32;

  /**
   * Processes serving the gateway's port (node:cluster workers under one primary); unset: one per
   * CPU. 1: the gateway is a single process, as before.
   */
  @IsOptional()
  @IsInt({ message: 'GATEWAY_WORKERS must be an integer' })
  @Min(1)
  @Max(64)
  GATEWAY_WORKERS?: number = undefined;

  /** Where rate-limit counters live so every gateway replica shares them; unset: in process. */
  @IsOptional()
  @Matches(/^rediss?:\/\/\S+$/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string = undefined;

  /** Prefix of the gateway's keys in Redis (several platforms may share one Redis). */
  @Matches(/^[A-Za-z0-9:_-]{0,64}$/, {
    message: 'REDIS_KEY_PREFIX must be up to 64 of [A-Za-z0-9:_-]',
  })
  REDIS_KEY_PREFIX: string = 'athenic:';

  /** REST and MCP requests per account per minute (the service role is not limited). */
  @IsInt({ message: 'RATE_LIMIT_REQUESTS_PER_MINUTE must be an integer' })
  @Min(1)
  RATE_LIMIT_REQUESTS_PER_MINUTE: number = 6000;

  /** REST and MCP requests per account per second: a flood is spread out, not let through in bursts. */
  @IsInt({ message: 'RATE_LIMIT_REQUESTS_PER_SECOND must be an integer' })
  @Min(1)
  RATE_LIMIT_REQUESTS_PER_SECOND: number = 100;

  /**
   * How long the answer to a request refused by a rate limit is held before it is sent (at most;
   * it goes as soon as the refusing window opens again). 0: refusals are answered at once.
   */
  @IsInt({ message: 'RATE_LIMIT_REFUSAL_HOLD_MS must be an integer' })
  @Min(0)
  @Max(10_000)
  RATE_LIMIT_REFUSAL_HOLD_MS: number = 1000;

  /** Refusals held at once per gateway process; past it they are answered at once. */
  @IsInt({ message: 'RATE_LIMIT_REFUSALS_HELD_MAX must be an integer' })
  @Min(0)
  RATE_LIMIT_REFUSALS_HELD_MAX: number = 1000;

  /** Failed authentications per source address per minute; then the address waits. */
  @IsInt({ message: 'RATE_LIMIT_AUTH_FAILURES_PER_MINUTE must be an integer' })
  @Min(1)
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: number = 30;

  /** Installs per account per minute. */
  @IsInt({ message: 'RATE_LIMIT_INSTALLS_PER_MINUTE must be an integer' })
  @Min(1)
  RATE_LIMIT_INSTALLS_PER_MINUTE: number = 30;

  /** Agent runs started per account per minute. */
  @IsInt({ message: 'RATE_LIMIT_AGENT_RUNS_PER_MINUTE must be an integer' })
  @Min(1)
  RATE_LIMIT_AGENT_RUNS_PER_MINUTE: number = 20;

  /** Open event streams (GET /functions/v1/mcp-connections/stream) of one account, per process. */
  @IsInt({ message: 'STREAM_MAX_PER_ACCOUNT must be an integer' })
  @Min(1)
  @Max(10_000)
  STREAM_MAX_PER_ACCOUNT: number = 10;

  /** Open event streams per gateway process (each worker of GATEWAY_WORKERS has its own). */
  @IsInt({ message: 'STREAM_MAX_PER_PROCESS must be an integer' })
  @Min(1)
  @Max(1_000_000)
  STREAM_MAX_PER_PROCESS: number = 1000;

  /** Bytes of events a stream's client may leave unread before it is dropped (with a last event). */
  @IsInt({ message: 'STREAM_BUFFER_BYTES must be an integer' })
  @Min(4096)
  @Max(64 * 1024 * 1024)
  STREAM_BUFFER_BYTES: number = 256 * 1024;

  /** Interval of the event streams' heartbeat (connections' and agent runs'). */
  @IsInt({ message: 'STREAM_HEARTBEAT_MS must be an integer' })
  @Min(1000)
  @Max(300_000)
  STREAM_HEARTBEAT_MS: number = 15_000;

  /** The replay window of Last-Event-ID: events each gateway process keeps, and for how long. */
  @IsInt({ message: 'STREAM_REPLAY_EVENTS must be an integer' })
  @Min(1)
  @Max(1_000_000)
  STREAM_REPLAY_EVENTS: number = 10_000;

  @IsInt({ message: 'STREAM_REPLAY_WINDOW_MS must be an integer' })
  @Min(1000)
  @Max(86_400_000)
  STREAM_REPLAY_WINDOW_MS: number = 300_000;

  /** The web console's build served at /console; default apps/console/dist of this checkout. */
  @IsOptional()
  @IsString()
  CONSOLE_DIR?: string = undefined;

  @IsOptional()
  @IsString()
  SERVICE_ROLE_KEY?: string = undefined;

  @IsOptional()
  @IsString()
  INTERNAL_SECRET?: string = undefined;
}

export interface GatewayConfig {
  env: GatewayEnv;
  publicBaseUrl: string;
  serviceRoleKey: string;
  internalSecret: string;
  /** Origins a browser may call the MCP endpoint from (ALLOWED_ORIGINS and the public origin). */
  allowedOrigins: ReadonlySet<string>;
  /** Where development secrets were generated, when they were. */
  secretsFile?: string;
  /** Worker processes (GATEWAY_WORKERS, else one per CPU). */
  workers: number;
  /** The client's address: the socket's, or the nearest one a trusted proxy forwarded. */
  clientAddress: (req: IncomingMessage) => string;
  /** The web console's build, served at /console. */
  consoleDir: string;
}

export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/** The only place the gateway reads process.env. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const env = validateEnv(GatewayEnv, source);
  const { secrets, file } = resolvePlatformSecrets({
    names: ['SERVICE_ROLE_KEY', 'INTERNAL_SECRET'],
    nodeEnv: env.NODE_ENV,
    file: path.resolve(env.DATA_DIR, 'secrets.json'),
    provided: { SERVICE_ROLE_KEY: env.SERVICE_ROLE_KEY, INTERNAL_SECRET: env.INTERNAL_SECRET },
  });
  const publicBaseUrl = (env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  const origins = (env.ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
    .map((o) => new URL(o).origin);
  return {
    env,
    publicBaseUrl,
    allowedOrigins: new Set([new URL(publicBaseUrl).origin, ...origins]),
    serviceRoleKey: secrets.SERVICE_ROLE_KEY,
    internalSecret: secrets.INTERNAL_SECRET,
    secretsFile: file,
    workers: env.GATEWAY_WORKERS ?? availableParallelism(),
    clientAddress: clientAddressOf(env.TRUSTED_PROXIES),
    consoleDir: env.CONSOLE_DIR ? path.resolve(env.CONSOLE_DIR) : defaultConsoleDir(),
  };
}

function proxyList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

function trustedProxiesProblem(value: string): string | null {
  try {
    proxyaddr.compile(proxyList(value));
    return null;
  } catch (error) {
    return `TRUSTED_PROXIES: ${error instanceof Error ? error.message : String(error)} (addresses, CIDRs, loopback, linklocal or uniquelocal)`;
  }
}

/** proxy-addr (the library Express uses) with this trust list; the socket's address without one. */
export function clientAddressOf(trusted: string | undefined): (req: IncomingMessage) => string {
  const list = proxyList(trusted);
  if (list.length === 0) return (req) => req.socket.remoteAddress ?? 'unknown';
  const trust = proxyaddr.compile(list);
  return (req) => {
    try {
      return proxyaddr(req as Parameters<typeof proxyaddr>[0], trust);
    } catch {
      return req.socket.remoteAddress ?? 'unknown';
    }
  };
}

/** Where the console's build is (apps/console/dist), from the compiled gateway or its sources. */
export function defaultConsoleDir(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'apps', 'console', 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve('apps/console/dist');
    dir = parent;
  }
  return path.join(dir, 'apps', 'console', 'dist');
}
