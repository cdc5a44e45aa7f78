import { Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNumber,
  IsOptional,
  IsString,
  IsUUID,
  Length,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { ACTOR_PATTERN } from '../credential/credential.dto';
import { IsAccountId } from '../shared/validators';

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const MODEL_SPEC_PATTERN = /^(openai|anthropic):[A-Za-z0-9._:/-]{1,100}$/;
/** A run's tool allow-list: at most this many names or globs, each at most this long. */
export const MAX_TOOL_PATTERNS = 100;
export const MAX_TOOL_PATTERN_LENGTH = 200;

/** A run's tool allow-list: an array of names or globs, within the two bounds above. */
export function IsToolAllowList(): PropertyDecorator {
  return (target, property) => {
    IsArray()(target, property);
    ArrayMaxSize(MAX_TOOL_PATTERNS)(target, property);
    IsString({ each: true })(target, property);
    Length(1, MAX_TOOL_PATTERN_LENGTH, { each: true })(target, property);
  };
}

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

  /**
   * Only the tools whose MCP name (`create_entities`) or model name
   * (`memory-server-3f2a9c1d-create_entities`) matches one of these names or globs; default all.
   */
  @IsOptional()
  @IsToolAllowList()
  tools?: string[];

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

export const TOOL_CALL_STATES = ['running', 'finished', 'refused'] as const;
export type ToolCallState = (typeof TOOL_CALL_STATES)[number];

export class ToolCallView {
  /** The call's number, increasing within a run. */
  @Matches(/^[0-9]{1,19}$/)
  id: string;

  /** `running` until the server answers; `refused` when the run has no such tool. */
  @IsIn(TOOL_CALL_STATES)
  state: ToolCallState;

  /** null for a refused call (no connection has the tool). */
  @IsOptional()
  @IsUUID()
  connection_id: string | null;

  /** The MCP tool name, as the server lists it (for a refused call, the name the model asked for). */
  @IsString()
  tool: string;

  /** The arguments, with the connection's secret values masked. */
  @Allow()
  arguments: unknown;

  /** The result as the server returned it (content), secrets masked, cut to the size cap; null while running. */
  @Allow()
  result: unknown;

  @IsBoolean()
  is_error: boolean;

  /** null while running. */
  @IsOptional()
  @IsNumber()
  duration_ms: number | null;

  @IsString()
  started_at: string;
}

export const RUN_PROGRESS_TYPES = [
  'tool_call.started',
  'tool_call.finished',
  'run.finished',
] as const;
export type RunProgressType = (typeof RUN_PROGRESS_TYPES)[number];

/** One step of a run as it happens (secrets masked), for the run's live stream. */
export class RunProgressEvent {
  @IsUUID()
  run_id: string;

  @IsAccountId()
  account_id: string;

  @IsIn(RUN_PROGRESS_TYPES)
  type: RunProgressType;

  /** The call, for `tool_call.*`. */
  @IsOptional()
  @ValidateNested()
  @Type(() => ToolCallView)
  tool_call?: ToolCallView;

  /** For `run.finished`: `completed` or `failed`. */
  @IsOptional()
  @IsIn(RUN_STATUSES)
  status?: RunStatus;

  @IsOptional()
  @IsString()
  output?: string | null;

  @IsOptional()
  @IsString()
  error?: string | null;
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

export class RunListQuery {
  @IsAccountId()
  account_id: string;

  /** The newest this many (1 to 100, default 20). */
  @IsOptional()
  @IsNumber()
  limit?: number;
}

/** A run in a list: what was asked and how it ended, without its tool calls. */
export class RunSummary {
  @IsUUID()
  id: string;

  @IsIn(RUN_STATUSES)
  status: RunStatus;

  @IsString()
  model: string;

  /** The last user message, cut to 200 characters. */
  @IsString()
  message: string;

  @IsNumber()
  tool_calls: number;

  @IsString()
  created_at: string;

  @IsOptional()
  @IsString()
  finished_at: string | null;
}

export class RunList {
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => RunSummary)
  data: RunSummary[];
}
