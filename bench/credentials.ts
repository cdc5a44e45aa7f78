// The credential path: raw envelope encrypt/decrypt per second in-process, then store and reveal
// through the credential service over the bus (sealing included), sequential and 8 at a time.
//   npm run build && node dist/bench/credentials.js
import 'reflect-metadata';
import {
  CredentialPublicKeyGet,
  CredentialSetReveal,
  CredentialSetStore,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import {
  CONNECTION_CREDENTIALS_PURPOSE,
  REVEAL_PROOF_PURPOSE,
  generateRecipientKeyPair,
  seal as sealFor,
  signFields,
  unseal,
} from '@athenic/platform-crypto';
import { createTestInfrastructure, TestPlatform } from '@athenic/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { open, seal } from '../apps/credential-service/src/crypto/envelope';
import { Keyring } from '../apps/credential-service/src/crypto/keyring';

const ENVELOPE_OPS = 20000;
const BUS_OPS = 400;

function perSecond(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString('en')} ops/s`;
}

async function timed(
  count: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return performance.now() - started;
}

async function main(): Promise<void> {
  const keyring = new Keyring([{ version: 1, key: randomBytes(32) }]);
  const owner = { accountId: 'acct', connectionId: randomUUID(), purpose: 'connection' };
  const payload = Buffer.from(JSON.stringify({ github_token: randomBytes(512).toString('hex') }));
  let started = performance.now();
  const envelopes = Array.from({ length: ENVELOPE_OPS }, () =>
    seal(payload, owner, keyring.current),
  );
  const sealMs = performance.now() - started;
  started = performance.now();
  for (const envelope of envelopes) open(envelope, owner, keyring);
  const openMs = performance.now() - started;

  const infra = await createTestInfrastructure('bench-credentials');
  const platform = await new TestPlatform(infra, {
    services: ['registry-service', 'credential-service'],
    env: { LOG_LEVEL: 'info' },
  }).start();
  // The gateway asks for the public key; the sandbox service stores and reveals.
  const gateway = new BusClient({ url: infra.amqpUrl, owner: 'gateway', requestTimeoutMs: 10000 });
  const bus = new BusClient({ url: infra.amqpUrl, owner: 'sandbox', requestTimeoutMs: 10000 });
  try {
    await gateway.connect();
    await bus.connect();
    const { jwk } = await gateway.send(CredentialPublicKeyGet, {});
    const ids = Array.from({ length: BUS_OPS * 2 }, () => randomUUID());
    const store = async (i: number) =>
      bus.send(CredentialSetStore, {
        account_id: 'acct-bench',
        connection_id: ids[i],
        mcp_server_id: 'github-server',
        sealed_values: {
          github_token: await sealFor(`ghp_${randomBytes(20).toString('hex')}`, jwk, {
            account: 'acct-bench',
            purpose: CONNECTION_CREDENTIALS_PURPOSE,
          }),
        },
        actor: 'bench',
      });
    const recipient = await generateRecipientKeyPair();
    const reveal = async (i: number) => {
      const fields = {
        account_id: 'acct-bench',
        connection_id: ids[i],
        requester: 'sandbox-service',
        recipient_jwk: recipient.publicJwk as Record<string, unknown>,
        requested_at: new Date().toISOString(),
      };
      const reply = await bus.send(CredentialSetReveal, {
        ...fields,
        proof: signFields(platform.internalSecret, REVEAL_PROOF_PURPOSE, fields),
      });
      await unseal(reply.sealed, recipient.privateKey);
    };
    await timed(50, 1, (i) => store(BUS_OPS * 2 - 1 - i)); // warm-up
    const storeSeq = await timed(BUS_OPS, 1, store);
    const revealSeq = await timed(BUS_OPS, 1, reveal);
    const storePar = await timed(BUS_OPS, 8, (i) => store(BUS_OPS + i));
    const revealPar = await timed(BUS_OPS, 8, (i) => reveal(BUS_OPS + i));
    process.stdout.write(
      [
        'credential path:',
        `  envelope seal (fresh data key + AES-256-GCM, 1 KiB)   ${perSecond(ENVELOPE_OPS, sealMs)}`,
        `  envelope open (unwrap + decrypt, 1 KiB)              ${perSecond(ENVELOPE_OPS, openMs)}`,
        `  store over the bus (JWE sealing, validation, envelope, audit), sequential   ${perSecond(BUS_OPS, storeSeq)}`,
        `  store over the bus, 8 in flight                                            ${perSecond(BUS_OPS, storePar)}`,
        `  reveal over the bus (proof, decrypt, JWE to the requester, audit), sequential ${perSecond(BUS_OPS, revealSeq)}`,
        `  reveal over the bus, 8 in flight                                             ${perSecond(BUS_OPS, revealPar)}`,
        '',
      ].join('\n'),
    );
  } finally {
    await bus.onApplicationShutdown();
    await gateway.onApplicationShutdown();
    await platform.stop();
    await infra.dispose();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
