import {
  countingListener,
  createTestHost,
  startHttpApi,
  startPostgres,
  type TestHost,
  testHostsAvailable,
} from '@athenic/testing';
import { type ChildProcess, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { Client } from 'pg';

const available = testHostsAvailable();
const describeWithHosts = available.ok ? describe : describe.skip;

function namespaces(): string {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Everything the child wrote to stdout, once it has exited. */
function stdoutOf(child: ChildProcess): Promise<string> {
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  return new Promise((resolve) => child.once('close', () => resolve(out.trim())));
}

describeWithHosts(
  `test hosts in network namespaces${available.ok ? '' : ` (${available.reason})`}`,
  () => {
    let host: TestHost;

    beforeAll(async () => {
      host = await createTestHost();
    });

    afterAll(() => host?.dispose());

    it('is a fresh namespace on a /30 of 10.231.0.0/16 with no route beyond it', () => {
      expect(host.name).toMatch(/^athtest-[0-9a-f]{6}$/);
      expect(host.hostSideAddress).toMatch(/^10\.231\.\d+\.\d+$/);
      const [a, b, c, d] = host.hostSideAddress.split('.').map(Number);
      expect(d % 4).toBe(1);
      expect(host.address).toBe(`${a}.${b}.${c}.${d + 1}`);
      expect(namespaces()).toContain(host.name);
      const routes = execFileSync('ip', ['-n', host.name, '-4', 'route'], { encoding: 'utf8' });
      expect(routes.trim().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^${a}\\.${b}\\.${c}\\.${d - 1}/30 dev `)),
      ]);
    });

    it('serves the greeting API inside the namespace and counts its requests exactly', async () => {
      const api = await startHttpApi(host);
      try {
        expect(api.url).toBe(`http://${host.address}:8080`);
        expect(await api.requests()).toBe(0);
        const doc = (await (await fetch(`${api.url}/openapi.json`)).json()) as {
          openapi: string;
          paths: Record<string, { get: { operationId: string } }>;
        };
        expect(doc.openapi).toMatch(/^3\./);
        expect(doc.paths['/greeting'].get.operationId).toBe('getGreeting');
        const greeting = await fetch(`${api.url}/greeting?name=world`);
        expect(await greeting.json()).toEqual({ greeting: 'hello world' });
        expect(await api.requests()).toBe(2);
        // Reading the count is not a request of its own.
        expect(await api.requests()).toBe(2);
      } finally {
        await api.stop();
      }
    });

    it('runs PostgreSQL inside the namespace with the tenant database', async () => {
      const postgres = await startPostgres(host);
      try {
        expect(postgres.connectionString).toBe(`postgresql://postgres@${host.address}:5432/tenant`);
        const client = new Client({ connectionString: postgres.connectionString });
        await client.connect();
        try {
          const count = await client.query<{ count: string }>('select count(*) from widgets');
          expect(count.rows).toEqual([{ count: '2' }]);
          const names = await client.query<{ name: string }>(
            'select name from widgets order by id',
          );
          expect(names.rows.map((r) => r.name)).toEqual(['alpha', 'beta']);
        } finally {
          await client.end();
        }
      } finally {
        await postgres.stop();
      }
    });

    it('counts connections to a loopback listener, and the test host cannot reach it', async () => {
      const listener = await countingListener();
      try {
        await new Promise<void>((resolve, reject) => {
          const socket = connect({ host: '127.0.0.1', port: listener.port }, () => {
            socket.end();
            resolve();
          });
          socket.once('error', reject);
        });
        const res = await fetch(listener.url);
        expect(res.status).toBe(200);
        await res.text();
        expect(listener.requests()).toBe(1);
        const before = listener.connections();
        expect(before).toBe(2);

        // 127.0.0.1 inside the namespace is the namespace's own loopback.
        const probe = host.spawn(process.execPath, [
          '-e',
          `require('node:net').connect(${listener.port}, '127.0.0.1')
             .on('connect', () => { console.log('connected'); process.exit(0); })
             .on('error', (e) => { console.log(e.code); process.exit(0); });`,
        ]);
        expect(await stdoutOf(probe)).toBe('ECONNREFUSED');
        expect(listener.connections()).toBe(before);
      } finally {
        await listener.close();
      }
    });

    it('kills its processes, deletes the namespace and veth on dispose, idempotently', async () => {
      const other = await createTestHost();
      try {
        expect(other.name).not.toBe(host.name);
        expect(other.address).not.toBe(host.address);
        const sleeper = other.spawn('sleep', ['600']);
        await new Promise((resolve) => sleeper.once('spawn', resolve));
        const pid = sleeper.pid!;
        expect(alive(pid)).toBe(true);

        await other.dispose();

        expect(alive(pid)).toBe(false);
        expect(namespaces()).not.toContain(other.name);
        expect(existsSync(`/sys/class/net/${other.name}`)).toBe(false);
        expect(() => other.spawn('true', [])).toThrow(/disposed/);
      } finally {
        await other.dispose();
      }
    });
  },
);
