import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';
import type { Binding } from '../crypto/envelope';

/** The binding a transport key's private half is sealed under (its envelope's AAD). */
export function transportKeyBinding(kid: string): Binding {
  return { accountId: 'platform', connectionId: kid, purpose: 'transport-key' };
}

/** The key pair credential values are sealed to in transit; its private half is envelope-encrypted. */
@Entity({ name: 'transport_keys' })
export class TransportKeyEntity {
  @PrimaryColumn('text')
  kid: string;

  @Column('jsonb', { name: 'public_jwk' })
  publicJwk: Record<string, any>;

  @Column('int', { name: 'key_version' })
  keyVersion: number;

  @Column('bytea', { name: 'wrapped_key' })
  wrappedKey: Buffer;

  @Column('bytea')
  ciphertext: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
