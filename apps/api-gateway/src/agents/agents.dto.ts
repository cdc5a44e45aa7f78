import { IsAccountId, IsToolAllowList, MODEL_SPEC_PATTERN, RunMessage } from '@athenic/contracts';
import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsOptional,
  IsString,
  IsUUID,
  Matches,
  ValidateNested,
} from 'class-validator';

export class StartRunBody {
  @ApiProperty({ required: false, description: 'Required with the service role key.' })
  @IsOptional()
  @IsAccountId()
  account_id?: string;

  @ApiProperty({
    example: [{ role: 'user', content: 'Find all open pull requests in our repository' }],
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100)
  @ValidateNested({ each: true })
  @Type(() => RunMessage)
  messages: RunMessage[];

  @ApiProperty({
    required: false,
    type: [String],
    description: 'Only these connections; default all running ones.',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(20)
  @IsUUID('all', { each: true })
  connection_ids?: string[];

  @ApiProperty({ required: false, example: 'openai:gpt-4o-mini' })
  @IsOptional()
  @Matches(MODEL_SPEC_PATTERN, { message: 'model must be openai:<model> or anthropic:<model>' })
  model?: string;

  @ApiProperty({
    required: false,
    type: [String],
    example: ['read_*', 'memory-server-*-search_nodes'],
    description:
      'Only the tools whose MCP name or model name (`<registry id>-<8 hex of the connection>-<tool>`) matches one of these names or globs; default every tool. The model never sees the others, and a call to one is answered with a tool error.',
  })
  @IsOptional()
  @IsToolAllowList()
  tools?: string[];
}

export class RunListBody {
  @ApiProperty({ required: false, description: 'Required with the service role key.' })
  @IsOptional()
  @IsAccountId()
  account_id?: string;

  @ApiProperty({ required: false, description: 'How many, newest first (1-100, default 20).' })
  @IsOptional()
  @Matches(/^[0-9]{1,3}$/, { message: 'limit must be a number from 1 to 100' })
  limit?: string;
}

export class AgentConfigQuery {
  @ApiProperty({ required: false })
  @IsOptional()
  @IsString()
  account_id?: string;

  @ApiProperty({
    required: false,
    description: 'Comma-separated connection ids; default all running ones.',
  })
  @IsOptional()
  @IsString()
  connection_ids?: string;

  @ApiProperty({
    required: false,
    description: 'Lifetime of the run token in seconds (30-86400, default 900).',
  })
  @IsOptional()
  @IsString()
  ttl_s?: string;
}
