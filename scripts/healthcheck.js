#!/usr/bin/env node
// Container health check of one service: asks it over the bus (its `<owner>.health.get` query,
// exactly as any AMQP client may) or, for the gateway, over HTTP. Exit 0 when healthy.
//   node scripts/healthcheck.js registry-service
'use strict';
const amqp = require('amqplib');
const { randomUUID } = require('node:crypto');

const OWNERS = {
  'registry-service': 'registry',
  'credential-service': 'credential',
  'sandbox-service': 'sandbox',
  'agent-runner': 'agent',
};
const service = process.argv[2];
const timeoutMs = 3000;

async function viaHttp() {
  const port = process.env.PORT || '3000';
  const res = await fetch(`http://127.0.0.1:${port}/health`, {
    signal: AbortSignal.timeout(timeoutMs),
  });
  // The gateway itself answers: its own health is what this container is checked for.
  const body = await res.json();
  return body.checks && body.checks['api-gateway'] && body.checks['api-gateway'].status === 'ok';
}

async function viaBus(owner) {
  const connection = await amqp.connect(
    process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672',
    { timeout: timeoutMs },
  );
  try {
    const channel = await connection.createChannel();
    const id = randomUUID();
    const reply = new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no reply within ${timeoutMs} ms`)),
        timeoutMs,
      );
      channel.consume(
        'amq.rabbitmq.reply-to',
        (msg) => {
          if (msg.properties.correlationId !== id) return;
          clearTimeout(timer);
          resolve(JSON.parse(msg.content.toString()));
        },
        { noAck: true },
      );
    });
    const pattern = `${owner}.health.get`;
    channel.publish('bus', pattern, Buffer.from(JSON.stringify({ pattern, id, data: {} })), {
      replyTo: 'amq.rabbitmq.reply-to',
      correlationId: id,
      expiration: String(timeoutMs),
    });
    const packet = await reply;
    return !packet.err && packet.response && packet.response.status === 'ok';
  } finally {
    await connection.close();
  }
}

const check =
  service === 'api-gateway'
    ? viaHttp()
    : OWNERS[service]
      ? viaBus(OWNERS[service])
      : Promise.reject(new Error(`unknown service "${service}"`));
check.then(
  (healthy) => {
    process.stdout.write(`${service}: ${healthy ? 'healthy' : 'unhealthy'}\n`);
    process.exit(healthy ? 0 : 1);
  },
  (error) => {
    process.stderr.write(`${service}: ${error.message}\n`);
    process.exit(1);
  },
);
