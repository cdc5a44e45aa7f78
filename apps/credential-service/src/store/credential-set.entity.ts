import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { Binding } from '../crypto/envelope';

/** What a credential set is for: its `purpose` column, and part of the binding of its envelope. */
export const CREDENTIAL_SET_PURPOSE = 'connection';

/** One connection's credentials: envelope-encrypted, bound to their owner by AAD. */
@Entity({ name: 'credential_sets' })
@Index('UQ_credential_sets_connection', ['connectionId'], { unique: true })
export class CredentialSetEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('text', { name: 'account_id' })
  accountId: string;

  @Column('uuid', { name: 'connection_id' })
  connectionId: string;

  @Column('text', { name: 'mcp_server_id' })
  mcpServerId: string;

  @Column('text')
  purpose: string;

  /** Names of the stored credentials (never values), for display and masking lists. */
  @Column('jsonb', { name: 'key_names' })
  keyNames: string[];

  /** Which master key wraps the data key. */
  @Index('IDX_credential_sets_key_version')
  @Column('int', { name: 'key_version' })
  keyVersion: number;

  @Column('bytea', { name: 'wrapped_key' })
  wrappedKey: Buffer;

  @Column('bytea')
  ciphertext: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}

/** Who a credential set's envelope is bound to (its AAD): sealed, opened and re-wrapped under it. */
export function bindingOf(accountId: string, connectionId: string): Binding {
  return { accountId, connectionId, purpose: CREDENTIAL_SET_PURPOSE };
}
