import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateServers1763900000000 implements MigrationInterface {
  name = 'CreateServers1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "registry"."servers" (
        "id" text NOT NULL,
        "name" text NOT NULL,
        "description" text NOT NULL,
        "category" text NOT NULL,
        "transport" text NOT NULL,
        "package_name" text,
        "package_version" text,
        "launch" jsonb NOT NULL,
        "credential_schema" jsonb NOT NULL,
        "config_schema" jsonb NOT NULL,
        "egress" jsonb NOT NULL,
        "builtin" boolean NOT NULL DEFAULT false,
        "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_servers_id" PRIMARY KEY ("id")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "registry"."servers"`);
  }
}
