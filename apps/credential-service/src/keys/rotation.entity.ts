import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A re-wrap of every data key under one master key; resumable, with its progress. */
@Entity({ name: 'rotations' })
export class RotationEntity {
  @PrimaryColumn('uuid')
  id: string;

  @Column('int', { name: 'target_version' })
  targetVersion: number;

  @Column('text')
  status: 'running' | 'completed' | 'failed';

  @Column('int')
  total: number;

  @Column('int')
  done: number;

  @Column('text', { nullable: true })
  error: string | null;

  @Column('text', { name: 'started_by' })
  startedBy: string;

  @Column('timestamptz', { name: 'started_at' })
  startedAt: Date;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt: Date | null;
}
