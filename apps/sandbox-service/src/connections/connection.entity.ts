import type { ConnectionStatus, DesiredState, Isolation } from '@athenic/contracts';
import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/** An installed MCP server of an account, and where it is in its lifecycle. */
@Entity({ name: 'connections' })
@Index('IDX_connections_account', ['accountId', 'createdAt'])
@Index('IDX_connections_status', ['status'])
@Index('IDX_connections_owner', ['ownerId'])
export class ConnectionEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { name: 'account_id' })
  accountId: string;

  @Column('text', { name: 'mcp_server_id' })
  mcpServerId: string;

  @Column('text')
  title: string;

  @Column('jsonb')
  config: Record<string, any>;

  @Column('text')
  status: ConnectionStatus;

  @Column('text', { name: 'status_reason' })
  statusReason: string;

  @Column('text', { name: 'desired_state' })
  desiredState: DesiredState;

  @Column('text', { nullable: true })
  isolation: Isolation | null;

  @Column('text')
  provider: 'local' | 'e2b';

  /** Bumped at every deploy attempt: late results of an older attempt are ignored. */
  @Column('int')
  generation: number;

  /** The provider's handle of the sandbox (E2B sandbox id, local process id). */
  @Column('text', { name: 'sandbox_ref', nullable: true })
  sandboxRef: string | null;

  @Column('text', { name: 'bridge_url', nullable: true })
  bridgeUrl: string | null;

  /** Automatic restarts since the last healthy run, for the crash budget. */
  @Column('int', { name: 'restart_count', default: 0 })
  restartCount: number;

  /** When it joined the queue for a sandbox slot (pending order). */
  @Column('timestamptz', { name: 'queued_at', nullable: true })
  queuedAt: Date | null;

  @Column('timestamptz', { name: 'deploy_deadline_at', nullable: true })
  deployDeadlineAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @Column('timestamptz', { name: 'last_active_at', nullable: true })
  lastActiveAt: Date | null;

  /** Since when it runs (idleness counts from here when it was never used). */
  @Column('timestamptz', { name: 'running_since', nullable: true })
  runningSince: Date | null;

  /** The user operation (stop, start, delete, ...) under way on it, on whichever replica. */
  @Column('uuid', { name: 'operation_id', nullable: true })
  operationId: string | null;

  /** Until when that operation's lease holds (a replica that died mid-operation lets go then). */
  @Column('timestamptz', { name: 'operation_until', nullable: true })
  operationUntil: Date | null;

  /** The replica whose process holds its sandbox (deploying or running); null otherwise. */
  @Column('text', { name: 'owner_id', nullable: true })
  ownerId: string | null;
}
