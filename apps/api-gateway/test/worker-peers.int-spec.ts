import { REPO_ROOT } from '@athenic/testing';
import cluster, { type Worker } from 'node:cluster';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { relayPeerMessages } from '../src/cluster/worker-peers';

// What one gateway worker shares reaches every worker, itself included, through the primary
// (this test process), as with GATEWAY_WORKERS > 1. The workers run the built WorkerPeers.
const WORKER = `
const { WorkerPeers } = require(${JSON.stringify(path.join(REPO_ROOT, 'dist/apps/api-gateway/src/cluster/worker-peers.js'))});
const peers = new WorkerPeers();
const forget = peers.shared('test.forget', (id, account) => process.send({ forgot: [id, account] }));
process.on('message', (m) => { if (m && m.go) forget('conn-1', undefined); });
process.send({ up: true });
`;

describe('WorkerPeers across node:cluster workers', () => {
  const workers: Worker[] = [];
  afterAll(() => {
    for (const worker of workers) worker.process.kill('SIGKILL');
  });

  it('runs a shared function in the worker that called it and in every other one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'worker-peers-'));
    writeFileSync(path.join(dir, 'worker.js'), WORKER);
    cluster.setupPrimary({ exec: path.join(dir, 'worker.js'), silent: true });
    relayPeerMessages();
    const forgot = new Map<Worker, unknown>();
    let up = 0;
    const allUp = new Promise<void>((resolve) =>
      cluster.on('message', (worker, message: { up?: boolean; forgot?: unknown }) => {
        if (message.up && ++up === 3) resolve();
        if (message.forgot) forgot.set(worker, message.forgot);
      }),
    );
    for (let i = 0; i < 3; i++) workers.push(cluster.fork());
    await allUp;
    workers[0].send({ go: true });
    for (let i = 0; i < 100 && forgot.size < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(forgot.size).toBe(3);
    // Arguments cross as JSON: undefined arrives as null.
    for (const worker of workers) expect(forgot.get(worker)).toEqual(['conn-1', null]);
  });
});
