import type { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateCredentialStore1795477172146 implements MigrationInterface {
  name = 'CreateCredentialStore1795477172146';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `CREATE TABLE "credential"."api_keys" ("id" uuid NOT NULL, "account_id" text NOT NULL, "name" text NOT NULL, "key_hash" text NOT NULL, "key_prefix" text NOT NULL, "created_by" text NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "revoked_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE UNIQUE INDEX "UQ_api_keys_key_hash" ON "credential"."api_keys"  ("key_hash") `,
    );
    await q.query(
      `CREATE INDEX "IDX_api_keys_account" ON "credential"."api_keys"  ("account_id") `,
    );
    await q.query(
      `CREATE TABLE "credential"."audit_log" ("id" BIGSERIAL NOT NULL, "at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "actor" text NOT NULL, "action" text NOT NULL, "account_id" text, "subject" text, "details" jsonb NOT NULL DEFAULT '{}', CONSTRAINT "PK_07fefa57f7f5ab8fc3f52b3ed0b" PRIMARY KEY ("id"))`,
    );
    await q.query(`CREATE INDEX "IDX_audit_log_subject" ON "credential"."audit_log"  ("subject") `);
    await q.query(
      `CREATE TABLE "credential"."credential_sets" ("id" uuid NOT NULL, "account_id" text NOT NULL, "connection_id" uuid NOT NULL, "mcp_server_id" text NOT NULL, "purpose" text NOT NULL, "key_names" jsonb NOT NULL, "key_version" integer NOT NULL, "wrapped_key" bytea NOT NULL, "ciphertext" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_70d41a8010f5f96da3801d6c700" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE INDEX "IDX_credential_sets_key_version" ON "credential"."credential_sets"  ("key_version") `,
    );
    await q.query(
      `CREATE UNIQUE INDEX "UQ_credential_sets_connection" ON "credential"."credential_sets"  ("connection_id") `,
    );
    await q.query(
      `CREATE TABLE "credential"."key_versions" ("version" integer NOT NULL, "check_value" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "retired_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_a4263401e9504a216bf06a234d0" PRIMARY KEY ("version"))`,
    );
    await q.query(
      `CREATE TABLE "credential"."rotations" ("id" uuid NOT NULL, "target_version" integer NOT NULL, "status" text NOT NULL, "total" integer NOT NULL, "done" integer NOT NULL, "error" text, "started_by" text NOT NULL, "started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "finished_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_5a7a0bdcb317671fa616b21f982" PRIMARY KEY ("id"))`,
    );
    await q.query(
      `CREATE TABLE "credential"."transport_keys" ("kid" text NOT NULL, "public_jwk" jsonb NOT NULL, "key_version" integer NOT NULL, "wrapped_key" bytea NOT NULL, "ciphertext" bytea NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_4bb7e8c5c69a1caacefac061798" PRIMARY KEY ("kid"))`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "credential"."transport_keys"`);
    await q.query(`DROP TABLE "credential"."rotations"`);
    await q.query(`DROP TABLE "credential"."key_versions"`);
    await q.query(`DROP INDEX "credential"."UQ_credential_sets_connection"`);
    await q.query(`DROP INDEX "credential"."IDX_credential_sets_key_version"`);
    await q.query(`DROP TABLE "credential"."credential_sets"`);
    await q.query(`DROP INDEX "credential"."IDX_audit_log_subject"`);
    await q.query(`DROP TABLE "credential"."audit_log"`);
    await q.query(`DROP INDEX "credential"."IDX_api_keys_account"`);
    await q.query(`DROP INDEX "credential"."UQ_api_keys_key_hash"`);
    await q.query(`DROP TABLE "credential"."api_keys"`);
  }
}
