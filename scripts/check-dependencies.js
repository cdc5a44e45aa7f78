#!/usr/bin/env node
// Before starting the platform: can Postgres and RabbitMQ be reached? If not, say which address
// was tried and how to start the service, instead of five services failing at once.
'use strict';
const { Client } = require('pg');
const amqp = require('amqplib');

const databaseUrl = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const amqpUrl = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

function where(url) {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith('amqp') ? 5672 : 5432)}`;
  } catch {
    return url;
  }
}

async function checkPostgres() {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return (
      `PostgreSQL is not reachable at ${where(databaseUrl)} (DATABASE_URL): ${error.message}\n` +
      `  Start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n` +
      `  or point DATABASE_URL at a running server.`
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function checkRabbit() {
  try {
    const connection = await amqp.connect(amqpUrl, { timeout: 3000 });
    await connection.close();
    return null;
  } catch (error) {
    return (
      `RabbitMQ is not reachable at ${where(amqpUrl)} (AMQP_URL): ${error.message}\n` +
      `  Start it with: rabbitmq-server -detached && rabbitmqctl await_startup\n` +
      `  or point AMQP_URL at a running broker.`
    );
  }
}

Promise.all([checkPostgres(), checkRabbit()]).then((problems) => {
  const found = problems.filter(Boolean);
  if (found.length > 0) {
    process.stderr.write(`${found.join('\n')}\n`);
    process.exit(1);
  }
});
