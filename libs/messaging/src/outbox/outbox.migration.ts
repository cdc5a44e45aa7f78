import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The outbox table of one service's schema; each service lists this migration with its own. */
export function outboxMigration(schema: string, timestamp: number): new () => MigrationInterface {
  const name = `CreateOutbox${timestamp}`;
  const migration = class implements MigrationInterface {
    name = name;

    async up(q: QueryRunner): Promise<void> {
      await q.query(`
        CREATE TABLE "${schema}"."outbox" (
          "seq" BIGSERIAL NOT NULL,
          "name" text NOT NULL,
          "payload" jsonb NOT NULL,
          "correlation_id" text,
          "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
          CONSTRAINT "PK_${schema}_outbox_seq" PRIMARY KEY ("seq")
        )`);
    }

    async down(q: QueryRunner): Promise<void> {
      await q.query(`DROP TABLE "${schema}"."outbox"`);
    }
  };
  Object.defineProperty(migration, 'name', { value: name });
  return migration;
}
