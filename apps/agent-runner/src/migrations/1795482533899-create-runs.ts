import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateRuns1795482533899 implements MigrationInterface {
  name = 'CreateRuns1795482533899';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "agent"."runs" ("id" uuid NOT NULL, "account_id" text NOT NULL, "status" text NOT NULL, "messages" jsonb NOT NULL, "connection_ids" jsonb, "model" text NOT NULL, "output" text, "error" text, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "started_at" TIMESTAMP WITH TIME ZONE, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_46d6a1e257c38ba58f1a3c30836" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "IDX_runs_status" ON "agent"."runs"  ("status") `);
    await q.query(
      `CREATE TABLE "agent"."tool_calls" ("id" BIGSERIAL NOT NULL, "run_id" uuid NOT NULL, "connection_id" uuid NOT NULL, "tool" text NOT NULL, "arguments" jsonb NOT NULL, "result" jsonb NOT NULL, "is_error" boolean NOT NULL, "duration_ms" integer NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_08984f8a6bc13859241462df855" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "IDX_tool_calls_run" ON "agent"."tool_calls"  ("run_id", "id") `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "agent"."IDX_tool_calls_run"`);
    await q.query(`DROP TABLE "agent"."tool_calls"`);
    await q.query(`DROP INDEX "agent"."IDX_runs_status"`);
    await q.query(`DROP TABLE "agent"."runs"`);
  }
}
