import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** The first answer to an install sent with an Idempotency-Key, kept 24 hours. */
@Entity({ name: 'idempotency_keys' })
export class IdempotencyKeyEntity {
  @PrimaryColumn('text', { name: 'account_id' })
  accountId: string;

  @PrimaryColumn('text')
  key: string;

  @Column('text', { name: 'request_hash' })
  requestHash: string;

  @Column('uuid', { name: 'connection_id' })
  connectionId: string;

  /** The first response, returned as it was to every replay. */
  @Column('jsonb')
  response: Record<string, any>;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
