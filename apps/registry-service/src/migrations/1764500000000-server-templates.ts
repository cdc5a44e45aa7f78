import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Templates per account: visibility, owner and soft delete (docs/adr/0010-account-templates.md). */
export class ServerTemplates1764500000000 implements MigrationInterface {
  name = 'ServerTemplates1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE "registry"."servers"
        ADD COLUMN "visibility" text NOT NULL DEFAULT 'public',
        ADD COLUMN "account_id" text,
        ADD COLUMN "deleted_at" TIMESTAMP WITH TIME ZONE`);
    await q.query(`CREATE INDEX "IDX_servers_account" ON "registry"."servers" ("account_id")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX "registry"."IDX_servers_account"`);
    await q.query(`
      ALTER TABLE "registry"."servers"
        DROP COLUMN "deleted_at",
        DROP COLUMN "account_id",
        DROP COLUMN "visibility"`);
  }
}
