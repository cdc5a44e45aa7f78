import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateConnections1795479404256 implements MigrationInterface {
  name = 'CreateConnections1795479404256';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "sandbox"."connection_events" ("id" BIGSERIAL NOT NULL, "connection_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "from_status" text, "to_status" text NOT NULL, "reason" text NOT NULL, CONSTRAINT "PK_57d44b0175efbb40906a4480593" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE INDEX "IDX_connection_events_connection" ON "sandbox"."connection_events"  ("connection_id", "id") `,
    );
    await q.query(
      `CREATE TABLE "sandbox"."connections" ("id" uuid NOT NULL, "account_id" text NOT NULL, "mcp_server_id" text NOT NULL, "title" text NOT NULL, "config" jsonb NOT NULL, "status" text NOT NULL, "status_reason" text NOT NULL, "desired_state" text NOT NULL, "isolation" text, "provider" text NOT NULL, "generation" integer NOT NULL, "sandbox_ref" text, "bridge_url" text, "restart_count" integer NOT NULL DEFAULT '0', "queued_at" TIMESTAMP WITH TIME ZONE, "deploy_deadline_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_active_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_0a1f844af3122354cbd487a8d03" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "IDX_connections_status" ON "sandbox"."connections"  ("status") `);
    await q.query(
      `CREATE INDEX "IDX_connections_account" ON "sandbox"."connections"  ("account_id", "created_at") `,
    );
    await q.query(
      `CREATE TABLE "sandbox"."idempotency_keys" ("account_id" text NOT NULL, "key" text NOT NULL, "request_hash" text NOT NULL, "connection_id" uuid NOT NULL, "response" jsonb NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_797bef48c094807d04973d995e9" PRIMARY KEY ("account_id", "key"))`,
    );
    await q.query(
      `CREATE TABLE "sandbox"."connection_logs" ("id" BIGSERIAL NOT NULL, "connection_id" uuid NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, "stream" text NOT NULL, "line" text NOT NULL, CONSTRAINT "PK_0e3d7dd9c52ff23f857405e99c0" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE INDEX "IDX_connection_logs_connection" ON "sandbox"."connection_logs"  ("connection_id", "id") `,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "sandbox"."IDX_connection_logs_connection"`);
    await q.query(`DROP TABLE "sandbox"."connection_logs"`);
    await q.query(`DROP TABLE "sandbox"."idempotency_keys"`);
    await q.query(`DROP INDEX "sandbox"."IDX_connections_account"`);
    await q.query(`DROP INDEX "sandbox"."IDX_connections_status"`);
    await q.query(`DROP TABLE "sandbox"."connections"`);
    await q.query(`DROP INDEX "sandbox"."IDX_connection_events_connection"`);
    await q.query(`DROP TABLE "sandbox"."connection_events"`);
  }
}
