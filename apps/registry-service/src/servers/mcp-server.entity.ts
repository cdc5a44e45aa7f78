import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { LaunchSpec, RemoteTemplate, Transport } from '@athenic/contracts';

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

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
