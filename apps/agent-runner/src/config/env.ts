import { CommonEnv, resolvePlatformSecrets, validateEnv } from '@athenic/config';
import { IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';
import * as path from 'node:path';

export const MODEL_PATTERN = /^(openai|anthropic):[A-Za-z0-9._:/-]{1,100}$/;

export class AgentEnv extends CommonEnv {
  @IsString()
  @MinLength(1)
  DATA_DIR: string = '.data';

  @IsOptional()
  @IsString()
  INTERNAL_SECRET?: string = undefined;

  /** Where the gateway's MCP endpoints are (the runner reaches tools only through them). */
  @Matches(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, { message: 'GATEWAY_URL must be an http(s) URL' })
  GATEWAY_URL: string = 'http://127.0.0.1:3000';

  /** The default model, `openai:<model>` or `anthropic:<model>`. */
  @IsOptional()
  @Matches(MODEL_PATTERN, { message: 'AGENT_MODEL must be openai:<model> or anthropic:<model>' })
  AGENT_MODEL?: string = undefined;

  @IsOptional()
  @IsString()
  OPENAI_API_KEY?: string = undefined;

  /** Any OpenAI-compatible server (local ones included). */
  @Matches(/^https?:\/\/\S+$/, { message: 'OPENAI_BASE_URL must be an http(s) URL' })
  OPENAI_BASE_URL: string = 'https://api.openai.com/v1/';

  @IsOptional()
  @IsString()
  ANTHROPIC_API_KEY?: string = undefined;

  @IsInt({ message: 'TOOL_CALL_TIMEOUT_MS must be an integer' })
  @Min(100)
  @Max(600000)
  TOOL_CALL_TIMEOUT_MS: number = 60000;

  /** Tool results are cut to this many bytes before the model sees them (and before storage). */
  @IsInt({ message: 'TOOL_RESULT_MAX_BYTES must be an integer' })
  @Min(256)
  @Max(10_000_000)
  TOOL_RESULT_MAX_BYTES: number = 100_000;

  @IsInt({ message: 'AGENT_MAX_STEPS must be an integer' })
  @Min(1)
  @Max(100)
  AGENT_MAX_STEPS: number = 10;

  /** Runs of one account queued or running at once; one more is refused until one finishes. */
  @IsInt({ message: 'MAX_CONCURRENT_RUNS_PER_ACCOUNT must be an integer' })
  @Min(1)
  @Max(1000)
  MAX_CONCURRENT_RUNS_PER_ACCOUNT: number = 5;
}

export interface AgentConfig {
  env: AgentEnv;
  internalSecret: string;
}

export const AGENT_CONFIG = Symbol('AGENT_CONFIG');

/** The only place this service reads process.env. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AgentConfig {
  const env = validateEnv(AgentEnv, source);
  const { secrets } = resolvePlatformSecrets({
    names: ['INTERNAL_SECRET'],
    nodeEnv: env.NODE_ENV,
    file: path.resolve(env.DATA_DIR, 'secrets.json'),
    provided: { INTERNAL_SECRET: env.INTERNAL_SECRET },
  });
  return { env, internalSecret: secrets.INTERNAL_SECRET };
}
