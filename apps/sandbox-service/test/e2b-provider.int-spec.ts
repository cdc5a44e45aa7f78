import { parseAllowPrivate } from '@athenic/egress';
import type { ExitInfo } from '@athenic/mcp-bridge';
import { connectMcpClient, eventually, FakeE2b, tinyMcpServer } from '@athenic/testing';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REFUSED_DENY_OUT } from '../src/providers/e2b-egress';
import { E2bProvider, type E2bSettings, METADATA } from '../src/providers/e2b.provider';
import {
  DeployError,
  type SandboxHooks,
  type SandboxSpec,
} from '../src/providers/sandbox-provider';

// The E2B provider against the fake E2B (the real SDK, the real wire protocol, real processes).
const CANARY = 'canary-e2b-3f1c9a';
const PROBE = `globalThis.report = {
  token: process.env.CANARY_TOKEN,
  bridgeVariables: Object.keys(process.env).filter((k) => k.startsWith('ATHENIC_BRIDGE') || k.startsWith('ATHENIC_SERVER')),
  file: require('fs').readFileSync('credentials/token', 'utf8'),
  notes: (require('fs').appendFileSync('notes.txt', 'x'), require('fs').readFileSync('notes.txt', 'utf8')),
};`;

describe('the E2B provider', () => {
  let fake: FakeE2b;
  let cacheDir: string;
  let settings: E2bSettings;
  let provider: E2bProvider;
  const exits: { id: string; exit: ExitInfo }[] = [];
  const hooks = (id: string): SandboxHooks => ({
    onLog: () => undefined,
    onExit: (exit) => exits.push({ id, exit }),
  });
  const spec = (over: Partial<SandboxSpec> = {}): SandboxSpec => ({
    connectionId: randomUUID(),
    accountId: 'acct-e2b',
    packageInstallDir: null,
    program: { kind: 'node', args: ['-e', tinyMcpServer(PROBE)] },
    env: { CANARY_TOKEN: CANARY },
    files: [{ path: 'credentials/token', content: `file-${CANARY}` }],
    egress: [],
    egressTargets: [],
    persistentStorage: false,
    ...over,
  });
  const start = (s: SandboxSpec, p = provider) =>
    p.start(s, 30_000, hooks(s.connectionId), new AbortController().signal);
  const sandboxOf = (connectionId: string) =>
    fake.sandboxes({ [METADATA.connection]: connectionId });
  const report = async (url: string, connectionId: string) => {
    const client = await connectMcpClient(url, settings.bridgeToken(connectionId));
    const result = await client.callTool({ name: 'report', arguments: {} });
    await client.close();
    return JSON.parse((result.content as { text: string }[])[0].text) as Record<string, unknown>;
  };
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    fake = await new FakeE2b().start();
    cacheDir = mkdtempSync(path.join(tmpdir(), 'e2b-cache-'));
    settings = {
      apiKey: fake.apiKey,
      template: 'base',
      apiUrl: fake.apiUrl,
      sandboxUrl: fake.sandboxUrl,
      sandboxTimeoutMs: 120_000,
      platformId: 'platform-under-test',
      memoryMb: 128,
      portUrl: (sandbox, port) => fake.portUrl(sandbox.sandboxId, port),
      bridgeDir: path.resolve(__dirname, '../../../dist/libs/mcp-bridge/src'),
      cacheDir,
      bridgeToken: (id) => `token-of-${id}`,
      orphanGraceMs: 0,
      egressOpenings: parseAllowPrivate('10.20.0.0/16, 10.30.0.7:5432'),
    };
    provider = new E2bProvider(settings);
  });

  afterAll(async () => {
    await fake?.stop();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('creates a tagged sandbox with no egress, the credentials only in the server, served through its bridge', async () => {
    const s = spec();
    const handle = await start(s);
    expect(handle.isolation).toBe('e2b');
    expect(handle.ready.tools).toBe(1);
    expect(handle.ref).toMatch(/^e2b:[^:]+:\d+:\d+$/);
    const [box] = sandboxOf(s.connectionId);
    expect(box.metadata).toEqual({
      [METADATA.connection]: s.connectionId,
      [METADATA.account]: 'acct-e2b',
      [METADATA.platform]: 'platform-under-test',
    });
    // No declared egress and no targets: no internet at all.
    expect(box).toMatchObject({
      egressDenied: true,
      allowInternetAccess: false,
      network: undefined,
    });
    // Nothing sandbox-wide: the credential is in the server's environment only.
    expect(box.envVarKeys).toEqual([]);
    const found = await report(handle.bridgeUrl, s.connectionId);
    expect(found).toMatchObject({ token: CANARY, bridgeVariables: [], file: `file-${CANARY}` });
    // A wrong token is refused by the bridge.
    await expect(connectMcpClient(handle.bridgeUrl, 'not-the-token')).rejects.toThrow();
    await handle.stop();
    expect(sandboxOf(s.connectionId)).toEqual([]);
    expect(box.pids.filter(alive)).toEqual([]);
  });

  it('opens the network only to the egress a server type declares and the targets of its user', async () => {
    const s = spec({
      egress: ['api.github.com:443'],
      egressTargets: [
        { field: 'config.api_base_url', host: 'api.example.com', port: 443 },
        { field: 'config.database_url', host: '10.30.0.7', port: 5432 },
        { field: 'config.metadata_url', host: '169.254.169.254', port: 80 },
      ],
    });
    const handle = await start(s);
    const [box] = sandboxOf(s.connectionId);
    // Denied by default, open to the declared host and the user's targets; a refused address
    // only where EGRESS_ALLOW_PRIVATE opened it (10.30.0.7:5432), never the metadata service.
    expect(box.egressDenied).toBe(true);
    expect(box.network).toEqual({
      allowOut: ['api.github.com', 'api.example.com', '10.30.0.7/32'],
      denyOut: ['0.0.0.0/0'],
    });
    await handle.stop();
    // A type with no egress of its own still reaches the targets its user gave.
    const targeted = spec({
      egressTargets: [{ field: 'config.url', host: 'api.example.com', port: 443 }],
    });
    const targetedHandle = await start(targeted);
    expect(sandboxOf(targeted.connectionId)[0].network).toEqual({
      allowOut: ['api.example.com'],
      denyOut: ['0.0.0.0/0'],
    });
    await targetedHandle.stop();
  });

  it("opens a type that reaches hosts of the user's choosing to the public internet only", async () => {
    const open = spec({
      egress: ['*'],
      egressTargets: [{ field: 'config.url', host: 'api.example.com', port: 443 }],
    });
    const handle = await start(open);
    const [box] = sandboxOf(open.connectionId);
    expect(box).toMatchObject({ egressDenied: false, allowInternetAccess: true });
    // Private, loopback, link-local (cloud metadata), CGNAT... denied; the opened block allowed
    // (allowOut wins over denyOut in E2B).
    expect(box.network).toEqual({
      allowOut: ['10.20.0.0/16', '10.30.0.7/32'],
      denyOut: [...REFUSED_DENY_OUT],
    });
    for (const range of [
      '169.254.0.0/16',
      '10.0.0.0/8',
      '172.16.0.0/12',
      '127.0.0.0/8',
      '100.64.0.0/10',
    ])
      expect(box.network?.denyOut).toContain(range);
    await handle.stop();
  });

  it('states the current egress rules to a paused sandbox it resumes', async () => {
    const s = spec({ persistentStorage: true, egress: ['*'] });
    await (await start(s)).stop();
    const [box] = sandboxOf(s.connectionId);
    expect(box.state).toBe('paused');
    // The type no longer declares `*`: the resumed sandbox reaches only the user's target.
    const narrowed = {
      ...s,
      egress: [],
      egressTargets: [{ field: 'config.url', host: 'api.example.com', port: 443 }],
    };
    const handle = await start(narrowed);
    expect(sandboxOf(s.connectionId)).toMatchObject([
      {
        id: box.id,
        state: 'running',
        egressDenied: true,
        network: { allowOut: ['api.example.com'], denyOut: ['0.0.0.0/0'] },
      },
    ]);
    await handle.stop();
    await provider.discardFiles(s.connectionId);
  });

  it('extends the sandbox timeout on a health check after use, not without use', async () => {
    const s = spec();
    const handle = await start(s);
    const [box] = sandboxOf(s.connectionId);
    const extensions = () =>
      fake.requests.filter((r) => r.sandboxId === box.id && r.path.endsWith('/timeout')).length;
    expect(typeof (await handle.ping(5000))).toBe('number');
    expect(extensions()).toBe(0);
    await report(handle.bridgeUrl, s.connectionId);
    await handle.ping(5000);
    expect(extensions()).toBe(1);
    expect(handle.lastActivity()).toBeGreaterThan(Date.now() - 60_000);
    await handle.ping(5000);
    expect(extensions()).toBe(1);
    await handle.stop();
  });

  it('after a crash, kills the sandboxes no one holds (pausing persistent ones), sparing young and adopting ones', async () => {
    const [held, orphan, persistent, adopting] = [
      spec(),
      spec(),
      spec({ persistentStorage: true }),
      spec(),
    ];
    for (const s of [held, orphan, persistent, adopting]) await start(s);
    // The service crashed; its successor took `held` back and is still trying `adopting`.
    const restarted = new E2bProvider(settings);
    const ref = (await start(held)).ref;
    await restarted.adopt(held.connectionId, ref, false, hooks(held.connectionId));
    // Young sandboxes may belong to a deploy under way: spared.
    const patient = new E2bProvider({ ...settings, orphanGraceMs: 60_000 });
    expect(await patient.killOrphans(new Set())).toEqual([]);
    const released = await restarted.killOrphans(new Set(), new Set([adopting.connectionId]));
    expect(released).toEqual(
      expect.arrayContaining([orphan.connectionId, persistent.connectionId]),
    );
    expect(released).not.toContain(adopting.connectionId);
    expect(sandboxOf(orphan.connectionId)).toEqual([]);
    expect(sandboxOf(persistent.connectionId).map((b) => b.state)).toEqual(['paused']);
    expect(sandboxOf(adopting.connectionId).map((b) => b.state)).toEqual(['running']);
    // The held one: its live sandbox kept (the older one of the same connection released).
    expect(sandboxOf(held.connectionId).map((b) => b.state)).toEqual(['running']);
    // Another platform on the same E2B account touches none of them.
    const other = new E2bProvider({ ...settings, platformId: 'another-platform' });
    expect(await other.killOrphans(new Set())).toEqual([]);
    for (const s of [held, persistent, adopting]) await provider.discardFiles(s.connectionId);
  });

  it('reports a sandbox that vanished as the server being killed', async () => {
    const s = spec();
    await start(s);
    const [box] = sandboxOf(s.connectionId);
    await fake.vanish(box.id);
    await eventually(async () =>
      expect(exits.filter((e) => e.id === s.connectionId).map((e) => e.exit)).toEqual([
        { code: null, signal: 'SIGKILL' },
      ]),
    );
  });

  it('says why when E2B refuses to create a sandbox, or refuses the API key', async () => {
    fake.failNextCreate(500, 'no capacity in this cluster');
    await expect(start(spec())).rejects.toThrow(
      new DeployError('E2B could not create the sandbox: 500: no capacity in this cluster.'),
    );
    const wrongKey = new E2bProvider({
      ...settings,
      apiKey: 'e2b_0000000000000000000000000000000000000000',
    });
    const failure = await start(spec(), wrongKey).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(DeployError);
    expect((failure as DeployError).reason).toBe(
      'E2B could not create the sandbox: E2B rejected the API key; check E2B_API_KEY.',
    );
  });

  it('kills the sandbox of a server that fails to start, with its exit code and stderr as the reason', async () => {
    const s = spec({
      program: {
        kind: 'node',
        args: ['-e', `process.stderr.write('boom: no config\\n'); process.exit(3);`],
      },
    });
    await expect(start(s)).rejects.toThrow(
      new DeployError('The server exited with code 3: boom: no config.'),
    );
    expect(sandboxOf(s.connectionId)).toEqual([]);
  });

  it('pauses a sandbox with persistent storage on stop and resumes it, files kept, on start', async () => {
    const s = spec({ persistentStorage: true });
    const first = await start(s);
    const [box] = sandboxOf(s.connectionId);
    expect((await report(first.bridgeUrl, s.connectionId)).notes).toBe('x');
    await first.stop();
    expect(fake.sandbox(box.id)?.state).toBe('paused');
    const second = await start(s);
    expect(sandboxOf(s.connectionId).map((b) => [b.id, b.state])).toEqual([[box.id, 'running']]);
    expect((await report(second.bridgeUrl, s.connectionId)).notes).toBe('xx');
    await second.stop();
    // Deleting the connection removes the paused sandbox too.
    await provider.discardFiles(s.connectionId);
    expect(sandboxOf(s.connectionId)).toEqual([]);
  });

  it('takes a running sandbox back after a restart of the service, by its ref', async () => {
    const s = spec();
    const handle = await start(s);
    const restarted = new E2bProvider(settings);
    const adopted = await restarted.adopt(s.connectionId, handle.ref, false, hooks(s.connectionId));
    expect(adopted?.bridgeUrl).toBe(handle.bridgeUrl);
    expect((await report(adopted!.bridgeUrl, s.connectionId)).token).toBe(CANARY);
    expect(
      await restarted.adopt(s.connectionId, 'e2b:gone:1:2', false, hooks(s.connectionId)),
    ).toBeNull();
    await adopted!.stop();
    expect(sandboxOf(s.connectionId)).toEqual([]);
  });
});
