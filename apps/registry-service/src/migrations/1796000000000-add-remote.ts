import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Remote server types (transport "streamable-http" or "sse"): a URL and headers, no launch spec. */
export class AddRemote1796000000000 implements MigrationInterface {
  name = 'AddRemote1796000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "registry"."servers" ADD COLUMN "remote" jsonb`);
    await q.query(`ALTER TABLE "registry"."servers" ALTER COLUMN "launch" DROP NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM "registry"."servers" WHERE "launch" IS NULL`);
    await q.query(`ALTER TABLE "registry"."servers" ALTER COLUMN "launch" SET NOT NULL`);
    await q.query(`ALTER TABLE "registry"."servers" DROP COLUMN "remote"`);
  }
}
