import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** Each master key version ever used: a check value to detect a wrong key, and retirement. */
@Entity({ name: 'key_versions' })
export class KeyVersionEntity {
  @PrimaryColumn('int')
  version: number;

  @Column('bytea', { name: 'check_value' })
  checkValue: Buffer;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column('timestamptz', { name: 'retired_at', nullable: true })
  retiredAt: Date | null;
}
