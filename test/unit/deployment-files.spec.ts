import { REPO_ROOT } from '@athenic/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { parse } from 'yaml';
import { loadConfig } from '../../apps/sandbox-service/src/config/env';
import { resolvePublicUrl } from '../../apps/sandbox-service/src/providers/bridge-host';

// No container engine runs here, so the compose file and Dockerfile are checked for what can be
// checked without one: structure, health checks, start order, and that they match the repo.
const SERVICES = [
  'api-gateway',
  'registry-service',
  'credential-service',
  'sandbox-service',
  'agent-runner',
];
const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');

interface ComposeService {
  command?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
  image?: string;
  build?: string;
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };

  it('runs RabbitMQ with its management UI, Postgres, the provisioning step and the five services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      [...SERVICES, 'gateway-lb', 'postgres', 'provision', 'rabbitmq'].sort(),
    );
    // The broker is reachable from the host's loopback only.
    expect(compose.services.rabbitmq.ports).toEqual([
      '127.0.0.1:5672:5672',
      '127.0.0.1:15672:15672',
    ]);
    expect(compose.services.rabbitmq.image).toMatch(/^rabbitmq:.*management/);
    expect(compose.services.postgres.image).toMatch(/^postgres:/);
  });

  it.each(SERVICES)(
    'starts %s from its built entry point, as its own principals, once they are provisioned',
    (name) => {
      const service = compose.services[name];
      expect(service.build).toBe('.');
      expect(service.command).toEqual([
        'node',
        'scripts/keep-running.js',
        name,
        '--env',
        `/data/service-env/${name}.json`,
        'node',
        '--enable-source-maps',
        `dist/apps/${name}/src/main.js`,
      ]);
      expect(service.depends_on?.provision).toEqual({
        condition: 'service_completed_successfully',
      });
      expect(fs.existsSync(path.join(REPO_ROOT, 'apps', name, 'src', 'main.ts'))).toBe(true);
      expect(service.depends_on?.postgres).toEqual({ condition: 'service_healthy' });
      expect(service.depends_on?.rabbitmq).toEqual({ condition: 'service_healthy' });
      expect(service.environment?.DATABASE_URL).toContain('@postgres:5432/');
      expect(service.environment?.AMQP_URL).toContain('@rabbitmq:5672');
    },
  );

  it('gives every container a health check, the services through scripts/healthcheck.js', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      expect(service.healthcheck?.test?.length).toBeGreaterThan(0);
      if (SERVICES.includes(name))
        expect(service.healthcheck!.test).toEqual(['CMD', 'node', 'scripts/healthcheck.js', name]);
    }
    expect(fs.existsSync(path.join(REPO_ROOT, 'scripts', 'healthcheck.js'))).toBe(true);
  });

  it("lets every gateway reach every sandbox-service replica's bridges (scalable: no fixed host port)", () => {
    const sandbox = compose.services['sandbox-service'];
    expect(sandbox.ports).toBeUndefined();
    expect(sandbox.environment).toMatchObject({ BRIDGE_HOST: '0.0.0.0', BRIDGE_PORT: '7700' });
    // What the replica announces is its own address on the compose network.
    const template = sandbox.environment!.BRIDGE_PUBLIC_URL;
    expect(
      resolvePublicUrl(template, 7700, {
        eth0: [{ address: '172.18.0.7', family: 'IPv4', internal: false } as never],
      }),
    ).toBe('http://172.18.0.7:7700');
    // And the service accepts it as configuration.
    // (with compose's `${NAME:-default}` filled as compose does when NAME is unset).
    const environment = Object.fromEntries(
      Object.entries(sandbox.environment!).map(([k, v]) => [
        k,
        String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1'),
      ]),
    );
    expect(() =>
      loadConfig({ ...environment, NODE_ENV: 'test', DATA_DIR: os.tmpdir() }),
    ).not.toThrow();
  });

  it('puts a load balancer in front of the gateway, so both scale (--scale api-gateway=2)', () => {
    expect(compose.services['api-gateway'].ports).toBeUndefined();
    const lb = compose.services['gateway-lb'] as ComposeService & { volumes: string[] };
    expect(lb.ports).toEqual(['3000:3000']);
    const [config] = lb.volumes[0].split(':');
    const conf = read(config);
    // Re-resolved through Docker's DNS (every replica), streams passed on unbuffered.
    expect(conf).toMatch(/resolver 127\.0\.0\.11/);
    expect(conf).toMatch(/set \$gateway http:\/\/api-gateway:3000;/);
    expect(conf).toMatch(/proxy_pass \$gateway;/);
    expect(conf).toMatch(/proxy_buffering off;/);
  });

  it('starts the gateway after the four services are healthy', () => {
    const deps = compose.services['api-gateway'].depends_on ?? {};
    for (const name of SERVICES.filter((s) => s !== 'api-gateway'))
      expect(deps[name]).toEqual({ condition: 'service_healthy' });
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split('\n').filter((l) => /^FROM /.test(l));

  it('is multi-stage and runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/\nUSER (?!root\b)\w+/);
    expect(runtime).toContain('COPY --from=build --chown=root:root /app/dist ./dist');
  });

  it('installs from the lockfile every workspace the repository has', () => {
    const workspaces = ['apps', 'libs'].flatMap((dir) =>
      fs
        .readdirSync(path.join(REPO_ROOT, dir))
        .filter((name) => fs.existsSync(path.join(REPO_ROOT, dir, name, 'package.json')))
        .map((name) => `${dir}/${name}`),
    );
    for (const workspace of workspaces)
      expect(dockerfile).toContain(`COPY ${workspace}/package.json ${workspace}/`);
    expect(dockerfile).toContain('RUN npm ci');
  });

  it("installs the MCP servers' packages ahead and bubblewrap for the local sandbox", () => {
    expect(dockerfile).toMatch(/mcp-packages\/\*\/.*npm ci/s);
    expect(dockerfile).toContain('bubblewrap');
  });
});
