import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * An install claims its Idempotency-Key before it stores credentials (the record without its
 * response yet): the connection's id follows from the key, so two installs with one key must not
 * both write it.
 */
export class AddInstallClaims1796081752292 implements MigrationInterface {
  name = 'AddInstallClaims1796081752292';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "sandbox"."idempotency_keys" ALTER COLUMN "response" DROP NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    // Claims of installs still running are forgotten: those installs then fail, nothing is made.
    await q.query(`DELETE FROM "sandbox"."idempotency_keys" WHERE "response" IS NULL`);
    await q.query(`ALTER TABLE "sandbox"."idempotency_keys" ALTER COLUMN "response" SET NOT NULL`);
  }
}
