import { Client } from 'pg';

/** One service's own database role: it owns its schema and nothing else. */
export interface DatabaseRole {
  role: string;
  password: string;
  /** The schema it owns; none for a service that only checks the database answers. */
  schema?: string;
}

/**
 * Gives each service a role of its own (docs/security/least-privilege.md): a login role that is
 * not a superuser, cannot create databases or roles, may connect to this database, and owns only
 * its schema (created, or taken over with everything in it when an earlier version made it as
 * the administrator). Other schemas, `public` included, stay closed to it. Idempotent: run at
 * every start; a password is set again each time. Returns one line per action, for the operator.
 */
export async function provisionDatabaseRoles(
  adminUrl: string,
  roles: readonly DatabaseRole[],
): Promise<string[]> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  const done: string[] = [];
  const run = async (sql: string, params: unknown[] = []) => {
    // Identifiers and the password are quoted by the server (format with %I and %L).
    const { rows } = await client.query<{ sql: string }>(`SELECT format(${sql}) AS sql`, params);
    await client.query(rows[0].sql);
  };
  try {
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    const database = rows[0].db;
    await run(`'REVOKE ALL ON DATABASE %I FROM PUBLIC', $1::text`, [database]);
    await client.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC');
    for (const { role, password, schema } of roles) {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      await run(
        `'${exists.rowCount ? 'ALTER' : 'CREATE'} ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', $1::text, $2::text`,
        [role, password],
      );
      await run(`'GRANT CONNECT ON DATABASE %I TO %I', $1::text, $2::text`, [database, role]);
      if (!schema) {
        done.push(`postgres: role ${role} may connect to ${database} and owns nothing`);
        continue;
      }
      await run(`'CREATE SCHEMA IF NOT EXISTS %I', $1::text`, [schema]);
      await run(`'ALTER SCHEMA %I OWNER TO %I', $1::text, $2::text`, [schema, role]);
      await run(`'REVOKE ALL ON SCHEMA %I FROM PUBLIC', $1::text`, [schema]);
      // What an earlier start made as the administrator becomes the service's.
      const owned = await client.query<{ kind: string; name: string }>(
        `SELECT CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind,
                c.relname AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'S')
            AND pg_get_userbyid(c.relowner) <> $2
            AND NOT (c.relkind = 'S' AND EXISTS (
              SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))`,
        [schema, role],
      );
      for (const { kind, name } of owned.rows)
        await run(`'ALTER ${kind} %I.%I OWNER TO %I', $1::text, $2::text, $3::text`, [
          schema,
          name,
          role,
        ]);
      const types = await client.query<{ name: string }>(
        `SELECT t.typname AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = $1 AND t.typtype = 'e' AND pg_get_userbyid(t.typowner) <> $2`,
        [schema, role],
      );
      for (const { name } of types.rows)
        await run(`'ALTER TYPE %I.%I OWNER TO %I', $1::text, $2::text, $3::text`, [
          schema,
          name,
          role,
        ]);
      done.push(
        `postgres: role ${role} owns schema ${schema}` +
          (owned.rowCount || types.rowCount
            ? ` (took over ${owned.rowCount! + types.rowCount!} objects)`
            : '') +
          '; no superuser, no other schema',
      );
    }
    return done;
  } finally {
    await client.end();
  }
}

/** Drops roles made by provisionDatabaseRoles, and everything they own (tests, uninstalls). */
export async function dropDatabaseRoles(adminUrl: string, roles: readonly string[]): Promise<void> {
  const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    for (const role of roles) {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
      if (!exists.rowCount) continue;
      const { rows } = await client.query<{ a: string; b: string }>(
        `SELECT format('DROP OWNED BY %I CASCADE', $1::text) AS a, format('DROP ROLE %I', $1::text) AS b`,
        [role],
      );
      await client.query(rows[0].a);
      await client.query(rows[0].b);
    }
  } finally {
    await client.end();
  }
}
