import {
  ApiClient,
  connectMcpClient,
  createTestInfrastructure,
  customServerType,
  resultText,
  type TestInfrastructure,
  TestPlatform,
  tinyMcpServer,
  waitForStatus,
} from '@athenic/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Runs inside the sandbox: tries what a hostile server would, and reports what happened.
const PROBE = `
const fs = require('fs');
const net = require('net');
const cfg = JSON.parse(process.env.PROBE);
const r = globalThis.report;
const write = (p) => { try { fs.writeFileSync(p, 'x'); return 'written'; } catch (e) { return e.code; } };
const read = (p) => { try { fs.readFileSync(p); return 'read'; } catch (e) { return e.code; } };
r.uid = process.getuid();
r.pid = process.pid;
r.processes = fs.readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p)).length;
r.writeWorkdir = write(process.cwd() + '/probe.txt');
r.writeTmp = write('/tmp/probe.txt');
r.writeUsr = write('/usr/probe.txt');
r.writeRoot = write('/probe.txt');
r.readKeyFile = read(cfg.key_file);
r.readOtherConnection = read(cfg.other_file);
r.readHostRepo = read(cfg.repo_file);
r.network = 'pending';
const socket = net.connect(Number(cfg.port), '127.0.0.1');
socket.on('connect', () => { r.network = 'connected'; socket.destroy(); });
socket.on('error', (e) => { r.network = e.code; });
require('dns').lookup('registry.npmjs.org', (e) => { r.dns = e ? e.code : 'resolved'; });
`;

describe('local sandbox isolation (bubblewrap)', () => {
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;

  beforeAll(async () => {
    infra = await createTestInfrastructure('isolation');
    platform = await new TestPlatform(infra).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  });

  afterAll(async () => {
    await platform?.stop();
    await infra?.dispose();
  });

  it('keeps a server to its own working dir, its own processes and no network when its type declares no egress', async () => {
    // Another connection's file and a platform key file, to try to read.
    const other = (
      await admin.post('/functions/v1/mcp-connections/install', {
        mcp_server_id: 'memory-server',
        account_id: 'acct-a',
        title: 'other',
      })
    ).body;
    await waitForStatus(admin, other.id, 'mcpRunning');
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${other.id}/mcp`,
      platform.serviceRoleKey,
    );
    await client.callTool({
      name: 'create_entities',
      arguments: {
        entities: [{ name: 'Private', entityType: 'secret', observations: ['of acct-a'] }],
      },
    });
    await client.close();
    const otherFile = path.join(platform.dataDir, 'sandboxes', other.id, 'work', 'memory.jsonl');
    expect(fs.existsSync(otherFile)).toBe(true);
    const keyFile = path.join(platform.dataDir, 'secrets.json');
    fs.writeFileSync(keyFile, '{"SERVICE_ROLE_KEY":"not-for-sandboxes"}', { mode: 0o600 });

    const type = customServerType('probe', tinyMcpServer(PROBE), {
      launch: {
        command: 'node',
        args: ['-e', tinyMcpServer(PROBE)],
        env: { PROBE: 'config:probe' },
      },
      config_schema: {
        type: 'object',
        additionalProperties: false,
        properties: { probe: { type: 'string' } },
      },
    });
    const created = await admin.post('/functions/v1/mcp-servers', type);
    expect(created.body).toMatchObject({ id: 'probe' });
    const probe = {
      key_file: keyFile,
      other_file: otherFile,
      repo_file: path.resolve(__dirname, '../../package.json'),
      port: new URL(platform.baseUrl).port,
    };
    const installed = (
      await admin.post('/functions/v1/mcp-connections/install', {
        mcp_server_id: 'probe',
        account_id: 'acct-b',
        title: 'probe',
        config: { probe: JSON.stringify(probe) },
      })
    ).body;
    const running = await waitForStatus(admin, installed.id, 'mcpRunning');
    expect(running.isolation).toBe('bubblewrap');
    // GET /health says the same, with what the isolation holds.
    const health = await admin.get('/health');
    expect(health.body.checks['sandbox-service'].detail).toContain(
      'isolation: bubblewrap: an own network namespace and egress proxy per sandbox',
    );
    await new Promise((r) => setTimeout(r, 300)); // let the network probes settle
    const probeClient = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${installed.id}/mcp`,
      platform.serviceRoleKey,
    );
    const report = JSON.parse(
      resultText(await probeClient.callTool({ name: 'report', arguments: {} })),
    );
    await probeClient.close();

    expect(report).toMatchObject({
      writeWorkdir: 'written',
      writeTmp: 'written',
      writeUsr: 'EROFS',
      readKeyFile: 'ENOENT',
      readOtherConnection: 'ENOENT',
      readHostRepo: 'ENOENT',
      network: 'ECONNREFUSED',
    });
    expect(report.writeRoot).toBe('EROFS');
    expect(['EAI_AGAIN', 'ENOTFOUND']).toContain(report.dns);
    // Its own pid namespace: only the sandbox's few processes are visible.
    expect(report.processes).toBeLessThan(6);
    // As root, each sandbox has a uid of its own from SANDBOX_UID_RANGE (default 200000-209999).
    if (process.getuid?.() === 0) {
      expect(report.uid).toBeGreaterThanOrEqual(200000);
      expect(report.uid).toBeLessThanOrEqual(209999);
    }
    // What it wrote stayed in its own working dir.
    expect(
      fs.existsSync(path.join(platform.dataDir, 'sandboxes', installed.id, 'work', 'probe.txt')),
    ).toBe(true);
    expect(fs.existsSync('/usr/probe.txt')).toBe(false);
  });
});
