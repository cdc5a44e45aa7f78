import { Column, Entity, PrimaryColumn } from 'typeorm';

/** A sandbox-service replica and its lease (docs/lifecycle.md, "Replicas"). */
@Entity({ name: 'replicas' })
export class ReplicaEntity {
  @PrimaryColumn('text')
  id: string;

  @Column('timestamptz', { name: 'started_at' })
  startedAt: Date;

  /** Renewed by its heartbeat; past it the replica counts as gone. */
  @Column('timestamptz', { name: 'lease_until' })
  leaseUntil: Date;
}
