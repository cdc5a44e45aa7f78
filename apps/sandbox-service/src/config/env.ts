import { CommonEnv, resolvePlatformSecrets, validateEnv } from '@athenic/config';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';
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

  @IsInt({ message: 'MAX_SANDBOXES_PER_ACCOUNT must be an integer' })
  @Min(1)
  @Max(10000)
  MAX_SANDBOXES_PER_ACCOUNT: number = 10;

  /** Where the bridges of local sandboxes listen (the gateway connects there). */
  @IsString()
  BRIDGE_HOST: string = '127.0.0.1';

  @IsInt({ message: 'BRIDGE_PORT must be an integer' })
  @Min(0)
  @Max(65535)
  BRIDGE_PORT: number = 0;

  /** How the gateway reaches the bridges; defaults to http://<BRIDGE_HOST>:<port>. */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s/]+$/, {
    message: 'BRIDGE_PUBLIC_URL must be an http(s) origin such as http://sandbox-service:3100',
  })
  BRIDGE_PUBLIC_URL?: string = undefined;

  /** Heap cap of each sandboxed server, in MiB. */
  @IsInt({ message: 'SANDBOX_MEMORY_MB must be an integer' })
  @Min(32)
  @Max(16384)
  SANDBOX_MEMORY_MB: number = 256;
}

export interface SandboxConfig {
  env: SandboxEnv;
  internalSecret: string;
  dataDir: string;
  packagesDir: string;
}

export const SANDBOX_CONFIG = Symbol('SANDBOX_CONFIG');

/** The only place this service reads process.env. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): SandboxConfig {
  const env = validateEnv(SandboxEnv, source);
  const { secrets } = resolvePlatformSecrets({
    names: ['INTERNAL_SECRET'],
    nodeEnv: env.NODE_ENV,
    file: path.resolve(env.DATA_DIR, 'secrets.json'),
    provided: { INTERNAL_SECRET: env.INTERNAL_SECRET },
  });
  return {
    env,
    internalSecret: secrets.INTERNAL_SECRET,
    dataDir: path.resolve(env.DATA_DIR),
    packagesDir: path.resolve(env.MCP_PACKAGES_DIR),
  };
}
