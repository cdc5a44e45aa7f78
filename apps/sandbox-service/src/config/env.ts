import { CommonEnv, EnvError, resolvePlatformSecrets, validateEnv } from '@athenic/config';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  MinLength,
} from 'class-validator';
import * as path from 'node:path';

export class SandboxEnv extends CommonEnv {
  @IsIn(['local', 'e2b'])
  SANDBOX_PROVIDER: 'local' | 'e2b' = 'local';

  @IsString()
  @MinLength(1)
  DATA_DIR: string = '.data';

  /** Where the MCP servers' npm packages are installed (one folder per package). */
  @IsString()
  @MinLength(1)
  MCP_PACKAGES_DIR: string = 'mcp-packages';

  @IsOptional()
  @IsString()
  INTERNAL_SECRET?: string = undefined;

  @IsInt({ message: 'DEPLOY_TIMEOUT_MS must be an integer' })
  @Min(1000)
  @Max(600000)
  DEPLOY_TIMEOUT_MS: number = 60000;

  @IsInt({ message: 'IDLE_TIMEOUT_MS must be an integer' })
  @Min(1000)
  IDLE_TIMEOUT_MS: number = 15 * 60 * 1000;

  @IsInt({ message: 'MAX_SANDBOXES must be an integer' })
  @Min(1)
  @Max(10000)
  MAX_SANDBOXES: number = 50;

  /** Connections an account may have at all (running or not); an install beyond is refused. */
  @IsInt({ message: 'MAX_CONNECTIONS_PER_ACCOUNT must be an integer' })
  @Min(1)
  @Max(100000)
  MAX_CONNECTIONS_PER_ACCOUNT: number = 100;

  @IsInt({ message: 'MAX_SANDBOXES_PER_ACCOUNT must be an integer' })
  @Min(1)
  @Max(10000)
  MAX_SANDBOXES_PER_ACCOUNT: number = 10;

  /**
   * MCP sessions one account may hold at once across the bridges of all its connections in this
   * process (local and remote connections; docs/security/limits.md, "The bridge"). An
   * `initialize` beyond is answered 429, after the account's idle sessions were dropped.
   */
  @IsInt({ message: 'MCP_SESSIONS_PER_ACCOUNT must be an integer' })
  @Min(1)
  @Max(1000000)
  MCP_SESSIONS_PER_ACCOUNT: number = 256;

  /** Where the bridges of local sandboxes listen (the gateway connects there). */
  @IsString()
  BRIDGE_HOST: string = '127.0.0.1';

  @IsInt({ message: 'BRIDGE_PORT must be an integer' })
  @Min(0)
  @Max(65535)
  BRIDGE_PORT: number = 0;

  /**
   * How the gateway reaches this replica's bridges; defaults to http://<BRIDGE_HOST>:<port>.
   * `{ip}` stands for this host's first non-loopback IPv4 address, `{hostname}` for its name and
   * `{port}` for the port the bridges got: `http://{ip}:7700` serves every replica of a scaled
   * compose service (docs/lifecycle.md, "Replicas").
   */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s/]+$/, {
    message: 'BRIDGE_PUBLIC_URL must be an http(s) origin such as http://sandbox-service:3100',
  })
  BRIDGE_PUBLIC_URL?: string = undefined;

  /** How often running servers get an MCP ping; three failures in a row count as a crash. */
  @IsInt({ message: 'HEALTH_CHECK_INTERVAL_MS must be an integer' })
  @Min(200)
  HEALTH_CHECK_INTERVAL_MS: number = 30000;

  /** How long an MCP ping may take before it counts as failed. */
  @IsInt({ message: 'HEALTH_CHECK_TIMEOUT_MS must be an integer' })
  @Min(100)
  @Max(60000)
  HEALTH_CHECK_TIMEOUT_MS: number = 5000;

  /** Automatic restarts after crashes before a connection is left in mcpError. */
  @IsInt({ message: 'CRASH_BUDGET must be an integer' })
  @Min(0)
  @Max(100)
  CRASH_BUDGET: number = 3;

  /** First restart delay; doubled after each crash. */
  @IsInt({ message: 'RESTART_BACKOFF_MS must be an integer' })
  @Min(0)
  @Max(600000)
  RESTART_BACKOFF_MS: number = 1000;

  /** How often the database is compared with what really runs. */
  @IsInt({ message: 'RECONCILE_INTERVAL_MS must be an integer' })
  @Min(200)
  RECONCILE_INTERVAL_MS: number = 30000;

  /**
   * This replica's name among the sandbox-service replicas sharing one database
   * (docs/lifecycle.md, "Replicas"); by default its host name and a digest of DATA_DIR, the same
   * on every restart, so a restarted replica takes its own connections back at once.
   */
  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
    message: 'SANDBOX_REPLICA_ID must be 1-63 letters, digits, dots, dashes or underscores',
  })
  SANDBOX_REPLICA_ID?: string = undefined;

  /**
   * How long a replica's lease lasts without a heartbeat (one every third of it). Past it the
   * replica counts as gone: the others adopt its E2B sandboxes and redeploy its local ones.
   */
  @IsInt({ message: 'REPLICA_LEASE_MS must be an integer' })
  @Min(3000)
  @Max(600000)
  REPLICA_LEASE_MS: number = 30000;

  /** The E2B API key (SANDBOX_PROVIDER=e2b); never generated. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  E2B_API_KEY?: string = undefined;

  /** The E2B template sandboxes are created from (it needs node, tar and a POSIX shell). */
  @IsString()
  @MinLength(1)
  E2B_TEMPLATE: string = 'base';

  /** The E2B control plane, for a self-hosted E2B; the SDK's default otherwise. */
  @IsOptional()
  @IsUrl(
    { require_tld: false, require_protocol: true },
    { message: 'E2B_API_URL must be an http(s) URL' },
  )
  E2B_API_URL?: string = undefined;

  /** One address for every sandbox's daemon, for a self-hosted E2B; per sandbox otherwise. */
  @IsOptional()
  @IsUrl(
    { require_tld: false, require_protocol: true },
    { message: 'E2B_SANDBOX_URL must be an http(s) URL' },
  )
  E2B_SANDBOX_URL?: string = undefined;

  /**
   * How a sandbox's port is reached, with `{port}` and `{sandbox}` placeholders; E2B's own
   * `https://<port>-<sandbox>.<domain>` otherwise.
   */
  @IsOptional()
  @Matches(/^https?:\/\/\S*\{port\}\S*$/, {
    message:
      'E2B_PORT_URL must be an http(s) URL template holding {port}, such as https://{port}-{sandbox}.e2b.example',
  })
  E2B_PORT_URL?: string = undefined;

  /**
   * How long E2B keeps a sandbox the platform stopped watching (extended while it is used);
   * defaults to IDLE_TIMEOUT_MS plus five minutes.
   */
  @IsOptional()
  @IsInt({ message: 'E2B_SANDBOX_TIMEOUT_MS must be an integer' })
  @Min(10000)
  @Max(24 * 3600 * 1000)
  E2B_SANDBOX_TIMEOUT_MS?: number = undefined;

  /** Memory of each sandboxed server (its heap cap, and the resident memory of all its processes), in MiB. */
  @IsInt({ message: 'SANDBOX_MEMORY_MB must be an integer' })
  @Min(32)
  @Max(16384)
  SANDBOX_MEMORY_MB: number = 256;

  /** Processes and threads one local sandbox may have (its own uid's RLIMIT_NPROC). */
  @IsInt({ message: 'SANDBOX_MAX_PROCESSES must be an integer' })
  @Min(16)
  @Max(4096)
  SANDBOX_MAX_PROCESSES: number = 128;

  /** Open files of one sandboxed server. */
  @IsInt({ message: 'SANDBOX_OPEN_FILES must be an integer' })
  @Min(64)
  @Max(65536)
  SANDBOX_OPEN_FILES: number = 1024;

  /** Size cap of one connection's working dir, in MiB. */
  @IsInt({ message: 'SANDBOX_WORKDIR_MB must be an integer' })
  @Min(1)
  @Max(1048576)
  SANDBOX_WORKDIR_MB: number = 1024;

  /**
   * The uids local sandboxes run under when the platform runs as root, one per sandbox
   * (`first-last`); no other account of the host may use them.
   */
  @Matches(/^\d{1,10}-\d{1,10}$/, {
    message: 'SANDBOX_UID_RANGE must be "first-last", such as 200000-209999',
  })
  SANDBOX_UID_RANGE: string = '200000-209999';

  /** In production, run local servers without isolation when bubblewrap cannot be used. */
  @IsIn(['true', 'false'], { message: 'ALLOW_UNISOLATED_SANDBOXES must be true or false' })
  ALLOW_UNISOLATED_SANDBOXES: 'true' | 'false' = 'false';
}

export interface SandboxConfig {
  env: SandboxEnv;
  /** SANDBOX_UID_RANGE, parsed. */
  sandboxUids: { first: number; last: number };
  internalSecret: string;
  dataDir: string;
  packagesDir: string;
}

export const SANDBOX_CONFIG = Symbol('SANDBOX_CONFIG');

/** The only place this service reads process.env. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const env = validateEnv(SandboxEnv, source);
  if (env.SANDBOX_PROVIDER === 'e2b' && !env.E2B_API_KEY) {
    throw new EnvError(
      'E2B_API_KEY: SANDBOX_PROVIDER=e2b needs the E2B API key of the account sandboxes run under (or use SANDBOX_PROVIDER=local)',
    );
  }
  const [first, last] = env.SANDBOX_UID_RANGE.split('-').map(Number);
  if (first < 1000 || last >= 2 ** 32 - 1 || last - first + 1 < env.MAX_SANDBOXES) {
    throw new EnvError(
      `SANDBOX_UID_RANGE: ${env.SANDBOX_UID_RANGE} must start at 1000 or above and hold at least MAX_SANDBOXES (${env.MAX_SANDBOXES}) uids`,
    );
  }
  const { secrets } = resolvePlatformSecrets({
    names: ['INTERNAL_SECRET'],
    nodeEnv: env.NODE_ENV,
    file: path.resolve(env.DATA_DIR, 'secrets.json'),
    provided: { INTERNAL_SECRET: env.INTERNAL_SECRET },
  });
  return {
    env,
    sandboxUids: { first, last },
    internalSecret: secrets.INTERNAL_SECRET,
    dataDir: path.resolve(env.DATA_DIR),
    packagesDir: path.resolve(env.MCP_PACKAGES_DIR),
  };
}
