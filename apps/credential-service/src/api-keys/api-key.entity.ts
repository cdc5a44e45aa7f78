import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

/** An account API key, stored only as the SHA-256 of the key. */
@Entity({ name: 'api_keys' })
@Index('IDX_api_keys_account', ['accountId'])
export class ApiKeyEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { name: 'account_id' })
  accountId: string;

  @Column('text')
  name: string;

  @Index('UQ_api_keys_key_hash', { unique: true })
  @Column('text', { name: 'key_hash' })
  keyHash: string;

  @Column('text', { name: 'key_prefix' })
  keyPrefix: string;

  @Column('text', { name: 'created_by' })
  createdBy: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt: Date | null;
}
