import { CommonEnv, resolvePlatformSecrets, validateEnv } from '@athenic/config';
import { IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';
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
  /** Where development secrets were generated, when they were. */
  secretsFile?: string;
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
  return {
    env,
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
    serviceRoleKey: secrets.SERVICE_ROLE_KEY,
    internalSecret: secrets.INTERNAL_SECRET,
    secretsFile: file,
  };
}
