import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/**
 * The first answer to an install sent with an Idempotency-Key, kept 24 hours. Written first as the
 * install's claim on its key (`response` null) while it stores the credentials and creates the
 * connection, whose id the key determines: another install with the key waits for the answer.
 */
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

  /** The first response, returned as it was to every replay; null while the install runs. */
  @Column('jsonb', { nullable: true })
  response: Record<string, any> | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
