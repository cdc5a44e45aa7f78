import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Sandbox-service replicas with their leases, and which one holds each connection. */
export class AddReplicas1795491000000 implements MigrationInterface {
  name = 'AddReplicas1795491000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "sandbox"."replicas" ("id" text NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "lease_until" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_replicas" PRIMARY KEY ("id"))`,
    );
    await q.query(`ALTER TABLE "sandbox"."connections" ADD "owner_id" text`);
    await q.query(`CREATE INDEX "IDX_connections_owner" ON "sandbox"."connections" ("owner_id") `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "sandbox"."IDX_connections_owner"`);
    await q.query(`ALTER TABLE "sandbox"."connections" DROP COLUMN "owner_id"`);
    await q.query(`DROP TABLE "sandbox"."replicas"`);
  }
}
