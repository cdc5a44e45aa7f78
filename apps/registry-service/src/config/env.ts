import { CommonEnv, validateEnv } from '@athenic/config';
import { IsInt, IsString, Max, Min, MinLength } from 'class-validator';
import * as path from 'node:path';

export class RegistryEnv extends CommonEnv {
  /** Where the npm packages of server types are installed (one folder per package). */
  @IsString()
  @MinLength(1)
  MCP_PACKAGES_DIR: string = 'mcp-packages';

  /** Templates (`visibility: "account"`) one account may have at once, deleted ones not counted. */
  @IsInt({ message: 'MAX_TEMPLATES_PER_ACCOUNT must be an integer' })
  @Min(0)
  @Max(10000)
  MAX_TEMPLATES_PER_ACCOUNT: number = 20;
}

/** The only place this service reads process.env. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): RegistryEnv {
  const env = validateEnv(RegistryEnv, source);
  env.MCP_PACKAGES_DIR = path.resolve(env.MCP_PACKAGES_DIR);
  return env;
}

export const REGISTRY_ENV = Symbol('REGISTRY_ENV');
