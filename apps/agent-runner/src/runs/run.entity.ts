import type { RunStatus } from '@athenic/contracts';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** An agent run: what was asked, over which connections, with which model, and how it ended. */
@Entity({ name: 'runs' })
@Index('IDX_runs_status', ['status'])
export class RunEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { name: 'account_id' })
  accountId: string;

  @Column('text')
  status: RunStatus;

  @Column('jsonb')
  messages: { role: string; content: string }[];

  /** The connections asked for, or null for all running ones of the account. */
  @Column('jsonb', { name: 'connection_ids', nullable: true })
  connectionIds: string[] | null;

  /** The tool allow-list (names or globs), or null for every tool of those connections. */
  @Column('jsonb', { nullable: true })
  tools: string[] | null;

  @Column('text')
  model: string;

  @Column('text', { nullable: true })
  output: string | null;

  @Column('text', { nullable: true })
  error: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt: Date | null;
}
