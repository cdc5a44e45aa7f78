import type { ConnectionStatus } from '@athenic/contracts';
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** One status transition of a connection, with its time and reason. */
@Entity({ name: 'connection_events' })
@Index('IDX_connection_events_connection', ['connectionId', 'id'])
export class ConnectionEventEntity {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id: string;

  @Column('uuid', { name: 'connection_id' })
  connectionId: string;

  @Column('timestamptz')
  at: Date;

  @Column('text', { name: 'from_status', nullable: true })
  fromStatus: ConnectionStatus | null;

  @Column('text', { name: 'to_status' })
  toStatus: ConnectionStatus;

  @Column('text')
  reason: string;
}
