import { CommonEnv, resolvePlatformSecrets, validateEnv } from '@athenic/config';
import { IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import * as path from 'node:path';
import { Keyring } from '../crypto/keyring';

export class CredentialEnv extends CommonEnv {
  @IsOptional()
  @IsString()
  CREDENTIAL_KEYS?: string = undefined;

  /** Which version of CREDENTIAL_KEYS wraps new data keys; defaults to the highest. */
  @IsOptional()
  @IsInt({ message: 'CREDENTIAL_KEY_CURRENT must be a key version number such as 2' })
  @Min(1)
  @Max(999999)
  CREDENTIAL_KEY_CURRENT?: number = undefined;

  @IsOptional()
  @IsString()
  INTERNAL_SECRET?: string = undefined;

  @IsString()
  @MinLength(1)
  DATA_DIR: string = '.data';
}

export interface CredentialConfig {
  env: CredentialEnv;
  keyring: Keyring;
  internalSecret: string;
}

export const CREDENTIAL_CONFIG = Symbol('CREDENTIAL_CONFIG');

/** The only place this service reads process.env. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): CredentialConfig {
  const env = validateEnv(CredentialEnv, source);
  const { secrets } = resolvePlatformSecrets({
    names: ['CREDENTIAL_KEYS', 'INTERNAL_SECRET'],
    nodeEnv: env.NODE_ENV,
    file: path.resolve(env.DATA_DIR, 'secrets.json'),
    provided: { CREDENTIAL_KEYS: env.CREDENTIAL_KEYS, INTERNAL_SECRET: env.INTERNAL_SECRET },
  });
  return {
    env,
    keyring: Keyring.parse(secrets.CREDENTIAL_KEYS, env.CREDENTIAL_KEY_CURRENT),
    internalSecret: secrets.INTERNAL_SECRET,
  };
}
