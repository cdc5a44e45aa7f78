import {
  AuthenticationError,
  CommandExitError,
  FileNotFoundError,
  Sandbox,
  SandboxNotFoundError,
} from 'e2b';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FakeE2b } from './fake-e2b';

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

async function until(check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function all<T>(paginator: { hasNext: boolean; nextItems(): Promise<T[]> }): Promise<T[]> {
  const items: T[] = [];
  while (paginator.hasNext) items.push(...(await paginator.nextItems()));
  return items;
}

const SERVER = `node -e 'const s = require("http").createServer((q, r) => r.end("ok from " + process.env.NAME)); s.listen(0, "127.0.0.1", () => console.log("port", s.address().port))'`;

describe('FakeE2b, driven by the real e2b SDK', () => {
  let fake: FakeE2b;
  let opts: { apiKey: string; apiUrl: string; sandboxUrl: string };

  beforeAll(async () => {
    fake = await new FakeE2b({ killGraceMs: 1000 }).start();
    opts = { apiKey: fake.apiKey, apiUrl: fake.apiUrl, sandboxUrl: fake.sandboxUrl };
  });

  afterAll(() => fake.stop());

  it('creates a sandbox with metadata, env vars and no egress, and runs commands in its home', async () => {
    const sandbox = await Sandbox.create('base', {
      ...opts,
      metadata: { owner: 'spec' },
      envs: { GREETING: 'hello' },
      allowInternetAccess: false,
      timeoutMs: 60_000,
    });
    const view = fake.sandbox(sandbox.sandboxId)!;
    expect(view).toMatchObject({
      templateId: 'base',
      metadata: { owner: 'spec' },
      envVarKeys: ['GREETING'],
      allowInternetAccess: false,
      egressDenied: true,
      state: 'running',
    });
    const info = await sandbox.getInfo();
    expect(info).toMatchObject({ metadata: { owner: 'spec' }, state: 'running' });

    const ok = await sandbox.commands.run('echo "$GREETING $EXTRA"; pwd', {
      envs: { EXTRA: 'world' },
    });
    expect(ok.exitCode).toBe(0);
    expect(ok.stdout).toBe(`hello world\n${join(view.rootDir, 'home/user')}\n`);

    const seen = { out: '', err: '' };
    const failed: unknown = await sandbox.commands
      .run('echo hi; echo oops >&2; exit 3', {
        onStdout: (data) => void (seen.out += data),
        onStderr: (data) => void (seen.err += data),
      })
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect(failed).toMatchObject({ exitCode: 3, stdout: 'hi\n', stderr: 'oops\n' });
    expect(seen).toEqual({ out: 'hi\n', err: 'oops\n' });
    expect(await sandbox.kill()).toBe(true);
  });

  it('writes and reads files under the sandbox root, where commands see them', async () => {
    const sandbox = await Sandbox.create('base', opts);
    const root = fake.sandbox(sandbox.sandboxId)!.rootDir;
    expect(await sandbox.files.write('notes/a.txt', 'alpha')).toMatchObject({
      path: '/home/user/notes/a.txt',
    });
    await sandbox.files.write('/home/user/notes/b.txt', 'beta');
    await sandbox.files.write([
      { path: '/home/user/multi/x.txt', data: 'x' },
      { path: '/tmp/y.txt', data: new Blob(['y']) },
    ]);
    expect((await sandbox.commands.run('cat notes/a.txt notes/b.txt multi/x.txt')).stdout).toBe(
      'alphabetax',
    );
    expect(await sandbox.files.read('notes/a.txt')).toBe('alpha');
    expect(await sandbox.files.read('/tmp/y.txt')).toBe('y');
    expect(existsSync(join(root, 'tmp/y.txt'))).toBe(true);
    await sandbox.commands.run('mkdir -p out && printf made > out/r.txt', {
      cwd: '/home/user/notes',
    });
    expect(await sandbox.files.read('notes/out/r.txt')).toBe('made');

    expect(await sandbox.files.makeDir('/home/user/deep/er')).toBe(true);
    expect(await sandbox.files.makeDir('deep/er')).toBe(false);
    expect(await sandbox.files.exists('deep/er')).toBe(true);
    expect((await sandbox.files.list('notes')).map((e) => [e.name, e.type])).toEqual([
      ['a.txt', 'file'],
      ['b.txt', 'file'],
      ['out', 'dir'],
    ]);
    await expect(sandbox.files.read('missing.txt')).rejects.toBeInstanceOf(FileNotFoundError);
    // Streamed and gzipped uploads go as a raw body rather than multipart.
    await sandbox.files.write('raw/z.txt', 'zipped', { gzip: true });
    await sandbox.files.write('raw/o.txt', new Blob(['octets']), { useOctetStream: true });
    expect((await sandbox.commands.run('cat raw/z.txt raw/o.txt')).stdout).toBe('zippedoctets');
    await sandbox.kill();
  });

  it('runs a background server reachable on its port; killing the sandbox stops it and removes its files', async () => {
    const sandbox = await Sandbox.create('base', { ...opts, envs: { NAME: 'sandbox' } });
    const id = sandbox.sandboxId;
    const root = fake.sandbox(id)!.rootDir;
    let output = '';
    const server = await sandbox.commands.run(SERVER, {
      background: true,
      timeoutMs: 0,
      onStdout: (data) => void (output += data),
    });
    await until(() => /port \d+/.test(output));
    const port = Number(/port (\d+)/.exec(output)![1]);
    const response = await fetch(fake.portUrl(id, port));
    expect(await response.text()).toBe('ok from sandbox');
    expect(fake.sandbox(id)!.pids).toEqual([server.pid]);
    expect((await sandbox.commands.list()).map((p) => p.pid)).toEqual([server.pid]);

    expect(await sandbox.kill()).toBe(true);
    expect(gone(server.pid)).toBe(true);
    expect(existsSync(root)).toBe(false);
    expect(fake.sandbox(id)).toBeUndefined();
    expect(await Sandbox.kill(id, opts)).toBe(false);
    expect(fake.ended).toContainEqual({ id, reason: 'killed' });
  });

  it('kills one command by pid; its handle then reports the kill', async () => {
    const sandbox = await Sandbox.create('base', opts);
    const sleeper = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 });
    expect(await sandbox.commands.kill(sleeper.pid)).toBe(true);
    const ended: unknown = await sleeper.wait().catch((error: unknown) => error);
    expect(ended).toMatchObject({ name: 'CommandExitError', error: 'signal: killed' });
    expect(gone(sleeper.pid)).toBe(true);
    expect(await sandbox.commands.kill(sleeper.pid)).toBe(false);
    await sandbox.kill();
  });

  it('lets a second client connect to a running command and see its later output', async () => {
    const sandbox = await Sandbox.create('base', opts);
    const ticker = await sandbox.commands.run('read go; echo "tick $go"; exit 4', {
      background: true,
      stdin: true,
      timeoutMs: 0,
    });
    const again = await Sandbox.connect(sandbox.sandboxId, opts);
    let seen = '';
    const attached = await again.commands.connect(ticker.pid, {
      timeoutMs: 0,
      onStdout: (data) => void (seen += data),
    });
    await again.commands.sendStdin(ticker.pid, 'now\n');
    const ended: unknown = await attached.wait().catch((error: unknown) => error);
    expect(ended).toMatchObject({ name: 'CommandExitError', exitCode: 4, stdout: 'tick now\n' });
    expect(seen).toBe('tick now\n');
    await expect(again.commands.connect(ticker.pid)).rejects.toMatchObject({
      name: 'NotFoundError',
    });
    await sandbox.kill();
  });

  it('records timeout changes and lists sandboxes by metadata, page by page', async () => {
    const suite = `list-${Date.now()}`;
    const a = await Sandbox.create('base', {
      ...opts,
      metadata: { suite, n: '1' },
      timeoutMs: 60_000,
    });
    const b = await Sandbox.create('base', {
      ...opts,
      metadata: { suite, n: '2', odd: 'a b&c=d%' },
    });
    const before = fake.sandbox(a.sandboxId)!.endAt;
    await a.setTimeout(600_000);
    const extensions = fake.requests.filter(
      (r) => r.method === 'POST' && r.path === `/sandboxes/${a.sandboxId}/timeout`,
    );
    expect(extensions).toMatchObject([
      { sandboxId: a.sandboxId, body: { timeout: 600 }, status: 204 },
    ]);
    expect(fake.sandbox(a.sandboxId)!.endAt.getTime()).toBeGreaterThan(before.getTime());

    const ids = async (metadata: Record<string, string>, limit?: number) =>
      (await all(Sandbox.list({ ...opts, limit, query: { metadata } })))
        .map((s) => s.sandboxId)
        .sort();
    expect(await ids({ suite })).toEqual([a.sandboxId, b.sandboxId].sort());
    expect(await ids({ suite, n: '2' })).toEqual([b.sandboxId]);
    expect(await ids({ odd: 'a b&c=d%' })).toEqual([b.sandboxId]);
    expect(await ids({ suite: 'nothing' })).toEqual([]);
    const paginator = Sandbox.list({ ...opts, limit: 1, query: { metadata: { suite } } });
    expect(await paginator.nextItems()).toHaveLength(1);
    expect(paginator.hasNext).toBe(true);
    expect(await paginator.nextItems()).toHaveLength(1);
    expect(paginator.hasNext).toBe(false);
    await Promise.all([a.kill(), b.kill()]);
  });

  it('raises the SDK authentication error for a wrong API key', async () => {
    const wrong = { ...opts, apiKey: 'e2b_not_the_key' };
    await expect(Sandbox.create('base', wrong)).rejects.toBeInstanceOf(AuthenticationError);
    await expect(Sandbox.list(wrong).nextItems()).rejects.toBeInstanceOf(AuthenticationError);
  });

  it('a vanished sandbox is not found any more, and its processes are gone', async () => {
    const sandbox = await Sandbox.create('base', opts);
    const sleeper = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 });
    await fake.vanish(sandbox.sandboxId);
    expect(gone(sleeper.pid)).toBe(true);
    // The command's stream drops without an end event, which the SDK reports as the sandbox gone.
    await expect(sleeper.wait()).rejects.toMatchObject({
      name: 'TimeoutError',
      message: expect.stringContaining('killed or reached its end of life'),
    });
    await expect(Sandbox.connect(sandbox.sandboxId, opts)).rejects.toBeInstanceOf(
      SandboxNotFoundError,
    );
    await expect(Sandbox.getInfo(sandbox.sandboxId, opts)).rejects.toBeInstanceOf(
      SandboxNotFoundError,
    );
    expect(await Sandbox.kill(sandbox.sandboxId, opts)).toBe(false);
    expect(await sandbox.isRunning()).toBe(false);
    await expect(sandbox.commands.run('true')).rejects.toBeInstanceOf(SandboxNotFoundError);
  });

  it('fails exactly the next create when told to', async () => {
    fake.failNextCreate(500, 'no capacity left');
    await expect(Sandbox.create('base', opts)).rejects.toThrow('500: no capacity left');
    const sandbox = await Sandbox.create('base', opts);
    expect(await sandbox.isRunning()).toBe(true);
    await sandbox.kill();
  });

  it('pausing stops the processes and keeps the files; connecting resumes', async () => {
    const sandbox = await Sandbox.create('base', opts);
    await sandbox.files.write('state.txt', 'kept');
    const sleeper = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 });
    expect(await sandbox.pause()).toBe(true);
    expect(await sandbox.pause()).toBe(false);
    expect(gone(sleeper.pid)).toBe(true);
    expect(fake.sandbox(sandbox.sandboxId)).toMatchObject({ state: 'paused', pids: [] });
    expect(await sandbox.isRunning()).toBe(false);
    const paused = await all(Sandbox.list({ ...opts, query: { state: ['paused'] } }));
    expect(paused.map((s) => s.sandboxId)).toContain(sandbox.sandboxId);

    const resumed = await Sandbox.connect(sandbox.sandboxId, { ...opts, timeoutMs: 60_000 });
    expect(fake.sandbox(sandbox.sandboxId)!.state).toBe('running');
    expect((await resumed.commands.run('cat state.txt')).stdout).toBe('kept');
    await resumed.kill();
  });

  it('kills a sandbox whose timeout passes, or pauses it when created to', async () => {
    const sandbox = await Sandbox.create('base', { ...opts, timeoutMs: 3000 });
    const sleeper = await sandbox.commands.run('sleep 30', { background: true, timeoutMs: 0 });
    const root = fake.sandbox(sandbox.sandboxId)!.rootDir;
    await until(() => fake.ended.some((e) => e.id === sandbox.sandboxId));
    expect(fake.ended).toContainEqual({ id: sandbox.sandboxId, reason: 'expired' });
    expect(gone(sleeper.pid)).toBe(true);
    expect(existsSync(root)).toBe(false);

    const pausing = await Sandbox.create('base', { ...opts, lifecycle: { onTimeout: 'pause' } });
    await fake.expire(pausing.sandboxId);
    expect(fake.sandbox(pausing.sandboxId)).toMatchObject({ state: 'paused', autoPause: true });
    await pausing.kill();
  });
});
