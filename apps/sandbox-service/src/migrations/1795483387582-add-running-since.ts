import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AddRunningSince1795483387582 implements MigrationInterface {
  name = 'AddRunningSince1795483387582';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE "sandbox"."connections" ADD "running_since" TIMESTAMP WITH TIME ZONE`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "sandbox"."connections" DROP COLUMN "running_since"`);
  }
}
