import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Who did what to which secret, when; never a value. */
@Entity({ name: 'audit_log' })
@Index('IDX_audit_log_subject', ['subject'])
export class AuditEntryEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @CreateDateColumn({ name: 'at', type: 'timestamptz' })
  at: Date;

  @Column('text')
  actor: string;

  @Column('text')
  action: string;

  @Column('text', { name: 'account_id', nullable: true })
  accountId: string | null;

  @Column('text', { nullable: true })
  subject: string | null;

  @Column('jsonb', { default: {} })
  details: Record<string, any>;
}
