import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One tool call of a run, secrets masked. */
@Entity({ name: 'tool_calls' })
@Index('IDX_tool_calls_run', ['runId', 'id'])
export class ToolCallEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column('uuid', { name: 'run_id' })
  runId: string;

  @Column('uuid', { name: 'connection_id' })
  connectionId: string;

  /** The MCP tool name as the server lists it. */
  @Column('text')
  tool: string;

  @Column('jsonb')
  arguments: any;

  @Column('jsonb')
  result: any;

  @Column('boolean', { name: 'is_error' })
  isError: boolean;

  @Column('int', { name: 'duration_ms' })
  durationMs: number;

  @Column('timestamptz')
  at: Date;
}
