import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { LaunchSpec, RemoteTemplate, Transport, Visibility } from '@athenic/contracts';

@Entity({ name: 'servers' })
export class McpServerEntity {
  @PrimaryColumn('text')
  id: string;

  @Column('text')
  name: string;

  @Column('text')
  description: string;

  @Column('text')
  category: string;

  @Column('text')
  transport: Transport;

  @Column('text', { name: 'package_name', nullable: true })
  packageName: string | null;

  @Column('text', { name: 'package_version', nullable: true })
  packageVersion: string | null;

  /** How a stdio server is started; null for a remote one. */
  @Column('jsonb', { nullable: true })
  launch: LaunchSpec | null;

  /** Where a remote server is; null for a stdio one. */
  @Column('jsonb', { nullable: true })
  remote: RemoteTemplate | null;

  @Column('jsonb', { name: 'credential_schema' })
  credentialSchema: Record<string, unknown>;

  @Column('jsonb', { name: 'config_schema' })
  configSchema: Record<string, unknown>;

  @Column('jsonb')
  egress: string[];

  @Column('boolean', { default: false })
  builtin: boolean;

  @Column('text', { default: 'public' })
  visibility: Visibility;

  /** The account owning a template (`visibility` "account"); null for a public type. */
  @Index('IDX_servers_account')
  @Column('text', { name: 'account_id', nullable: true })
  accountId: string | null;

  /**
   * Soft delete: a deleted row stays (its id taken) so the connections installed from it still
   * deploy; only lookups with `include_deleted` find it (docs/adr/0010-account-templates.md).
   */
  @Column('timestamptz', { name: 'deleted_at', nullable: true })
  deletedAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
