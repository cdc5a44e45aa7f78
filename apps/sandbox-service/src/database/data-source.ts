import { createServiceDataSource } from '@athenic/database';
import { OutboxMessageEntity, outboxMigration } from '@athenic/messaging';
import type { DataSource } from 'typeorm';
import { ConnectionEventEntity } from '../connections/connection-event.entity';
import { ConnectionEntity } from '../connections/connection.entity';
import { IdempotencyKeyEntity } from '../connections/idempotency-key.entity';
import { ConnectionLogEntity } from '../logs/connection-log.entity';
import { CreateConnections1795479404256 } from '../migrations/1795479404256-create-connections';
import { AddRunningSince1795483387582 } from '../migrations/1795483387582-add-running-since';
import { AddOperationLease1795490000000 } from '../migrations/1795490000000-add-operation-lease';
import { AddReplicas1795491000000 } from '../migrations/1795491000000-add-replicas';
import { AddInstallClaims1796081752292 } from '../migrations/1796081752292-add-install-claims';
import { ReplicaEntity } from '../lifecycle/replica.entity';

export const SANDBOX_SCHEMA = 'sandbox';

export function sandboxDataSource(url: string): DataSource {
  return createServiceDataSource({
    url,
    schema: SANDBOX_SCHEMA,
    entities: [
      ConnectionEntity,
      ConnectionEventEntity,
      IdempotencyKeyEntity,
      ConnectionLogEntity,
      ReplicaEntity,
      OutboxMessageEntity,
    ],
    migrations: [
      outboxMigration(SANDBOX_SCHEMA, 1763900000001),
      CreateConnections1795479404256,
      AddRunningSince1795483387582,
      AddOperationLease1795490000000,
      AddReplicas1795491000000,
      AddInstallClaims1796081752292,
    ],
    poolSize: 10,
  });
}
