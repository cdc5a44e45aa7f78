import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Tool calls are written as they start (state `running`, no result yet) and completed as they
 * end, so a run's live stream and its record agree; a call to a tool the run does not have is
 * kept as `refused`, with no connection. A run keeps its tool allow-list.
 */
export class ToolCallProgress1795500000000 implements MigrationInterface {
  name = 'ToolCallProgress1795500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "agent"."runs" ADD "tools" jsonb`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ADD "state" text NOT NULL DEFAULT 'finished'`);
    await q.query(`ALTER TABLE "agent"."tool_calls" RENAME COLUMN "at" TO "started_at"`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ADD "finished_at" TIMESTAMP WITH TIME ZONE`);
    await q.query(`UPDATE "agent"."tool_calls" SET "finished_at" = "started_at"`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ALTER COLUMN "connection_id" DROP NOT NULL`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ALTER COLUMN "result" DROP NOT NULL`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ALTER COLUMN "duration_ms" DROP NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM "agent"."tool_calls" WHERE "state" <> 'finished'`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ALTER COLUMN "duration_ms" SET NOT NULL`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ALTER COLUMN "result" SET NOT NULL`);
    await q.query(`ALTER TABLE "agent"."tool_calls" ALTER COLUMN "connection_id" SET NOT NULL`);
    await q.query(`ALTER TABLE "agent"."tool_calls" DROP COLUMN "finished_at"`);
    await q.query(`ALTER TABLE "agent"."tool_calls" RENAME COLUMN "started_at" TO "at"`);
    await q.query(`ALTER TABLE "agent"."tool_calls" DROP COLUMN "state"`);
    await q.query(`ALTER TABLE "agent"."runs" DROP COLUMN "tools"`);
  }
}
