import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The lease a user operation holds on a connection, seen by every replica (docs/lifecycle.md). */
export class AddOperationLease1795490000000 implements MigrationInterface {
  name = 'AddOperationLease1795490000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "sandbox"."connections" ADD "operation_id" uuid`);
    await q.query(
      `ALTER TABLE "sandbox"."connections" ADD "operation_until" TIMESTAMP WITH TIME ZONE`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "sandbox"."connections" DROP COLUMN "operation_until"`);
    await q.query(`ALTER TABLE "sandbox"."connections" DROP COLUMN "operation_id"`);
  }
}
