import type { ToolCallState } from '@athenic/contracts';
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One tool call of a run, secrets masked: written as it starts, completed as it ends. */
@Entity({ name: 'tool_calls' })
@Index('IDX_tool_calls_run', ['runId', 'id'])
export class ToolCallEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column('uuid', { name: 'run_id' })
  runId: string;

  /** `running`, `finished`, or `refused` (the run has no such tool). */
  @Column('text', { default: 'finished' })
  state: ToolCallState;

  /** null for a refused call. */
  @Column('uuid', { name: 'connection_id', nullable: true })
  connectionId: string | null;

  /** The MCP tool name as the server lists it (for a refused call, the name the model asked for). */
  @Column('text')
  tool: string;

  @Column('jsonb')
  arguments: any;

  /** null while running. */
  @Column('jsonb', { nullable: true })
  result: any;

  @Column('boolean', { name: 'is_error' })
  isError: boolean;

  /** null while running. */
  @Column('int', { name: 'duration_ms', nullable: true })
  durationMs: number | null;

  @Column('timestamptz', { name: 'started_at' })
  startedAt: Date;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt: Date | null;
}
