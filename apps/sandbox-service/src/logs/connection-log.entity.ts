import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** A line of a connection's server output or lifecycle, secrets already masked. */
@Entity({ name: 'connection_logs' })
@Index('IDX_connection_logs_connection', ['connectionId', 'id'])
export class ConnectionLogEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column('uuid', { name: 'connection_id' })
  connectionId: string;

  @Column('timestamptz')
  at: Date;

  @Column('text')
  stream: 'stdout' | 'stderr' | 'system';

  @Column('text')
  line: string;
}
