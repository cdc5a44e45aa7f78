import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { ACTOR_PATTERN } from '../credential/credential.dto';
import { IsAccountId } from '../shared/validators';

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const MODEL_SPEC_PATTERN = /^(openai|anthropic):[A-Za-z0-9._:/-]{1,100}$/;

export class RunMessage {
  @IsIn(['system', 'user', 'assistant'])
  role: 'system' | 'user' | 'assistant';

  @IsString()
  @MaxLength(32768)
  content: string;
}

export class StartRunCommand {
  @IsAccountId()
  account_id: string;

  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => RunMessage)
  messages: RunMessage[];

  /** Only these connections' tools (each the account's); default all its running connections. */
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsUUID('all', { each: true })
  connection_ids?: string[];

  @IsOptional()
  @Matches(MODEL_SPEC_PATTERN, { message: 'model must be openai:<model> or anthropic:<model>' })
  model?: string;

  @Matches(ACTOR_PATTERN)
  actor: string;
}

export class RunAccepted {
  @IsUUID()
  id: string;

  @IsIn(RUN_STATUSES)
  status: RunStatus;
}

export class RunQuery {
  @IsUUID()
  id: string;

  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

export class ToolCallView {
  @IsUUID()
  connection_id: string;

  /** The MCP tool name, as the server lists it. */
  @IsString()
  tool: string;

  /** The arguments, with the connection's secret values masked. */
  arguments: unknown;

  /** The result as the server returned it (content), secrets masked, cut to the size cap. */
  result: unknown;

  @IsBoolean()
  is_error: boolean;

  @IsNumber()
  duration_ms: number;
}

export class RunView {
  @IsUUID()
  id: string;

  @IsString()
  account_id: string;

  @IsIn(RUN_STATUSES)
  status: RunStatus;

  @IsString()
  model: string;

  @IsOptional()
  @IsString()
  output: string | null;

  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => ToolCallView)
  tool_calls: ToolCallView[];

  @IsOptional()
  @IsString()
  error: string | null;

  @IsString()
  created_at: string;

  @IsOptional()
  @IsString()
  finished_at: string | null;
}
