import { REPO_ROOT } from '@athenic/testing';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

// deploy/kubernetes rendered offline (base and the production overlay) and validated against the
// Kubernetes schemas by scripts/render-kubernetes.mjs; here, what the platform needs of them.
const SERVICES = [
  'api-gateway',
  'registry-service',
  'credential-service',
  'sandbox-service',
  'agent-runner',
];

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: any;
  data?: Record<string, string>;
};

const rendered = JSON.parse(
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'render-kubernetes.mjs')], {
    encoding: 'utf8',
  }),
) as Record<'base' | 'production', K8sObject[]>;

const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name)!;
const container = (objects: K8sObject[], name: string) =>
  find(objects, 'Deployment', name).spec.template.spec.containers[0];
const envOf = (objects: K8sObject[], name: string) =>
  Object.fromEntries(
    (container(objects, name).env as { name: string; value?: string; valueFrom?: any }[]).map(
      (e) => [e.name, e.value ?? e.valueFrom],
    ),
  );

describe('the Kubernetes manifests (deploy/kubernetes)', () => {
  it.each(['base', 'production'] as const)(
    '%s: everything lands in the athenic namespace',
    (variant) => {
      for (const object of rendered[variant].filter((o) => o.kind !== 'Namespace'))
        expect(object.metadata.namespace).toBe('athenic');
    },
  );

  it.each(SERVICES)(
    '%s: a Deployment with probes on this very process, resources, a non-root pod, secrets from a Secret, and a PodDisruptionBudget',
    (name) => {
      for (const objects of [rendered.base, rendered.production]) {
        const c = container(objects, name);
        expect(c.command).toEqual([
          'node',
          '--enable-source-maps',
          `dist/apps/${name}/src/main.js`,
        ]);
        expect(c.readinessProbe).toBeDefined();
        expect(c.livenessProbe).toBeDefined();
        if (name !== 'api-gateway') {
          // The bus health query may be answered by any replica: the probes ask this process.
          expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'probes' });
          expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'probes' });
          expect(envOf(objects, name).PROBE_PORT).toBe('9464');
        }
        expect(c.resources.requests).toEqual(
          expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
        );
        expect(c.resources.limits).toEqual(
          expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }),
        );
        const pod = find(objects, 'Deployment', name).spec.template.spec;
        expect(pod.securityContext.runAsNonRoot).toBe(true);
        expect(c.securityContext.allowPrivilegeEscalation).toBe(false);
        const env = envOf(objects, name);
        for (const secret of ['DATABASE_URL', 'AMQP_URL', 'INTERNAL_SECRET'])
          expect(env[secret]).toEqual({
            secretKeyRef: expect.objectContaining({ name: 'athenic-secrets' }),
          });
        expect(c.envFrom).toEqual([{ configMapRef: { name: 'athenic-config' } }]);
        const pdb = find(objects, 'PodDisruptionBudget', name);
        expect(pdb.spec.selector.matchLabels).toEqual(
          find(objects, 'Deployment', name).spec.selector.matchLabels,
        );
      }
    },
  );

  it('every secret a Deployment or Job names is one the kustomization generates', () => {
    for (const objects of [rendered.base, rendered.production]) {
      const secrets = new Map(
        objects
          .filter((o) => o.kind === 'Secret')
          .map((o) => [o.metadata.name, Object.keys((o as any).stringData)]),
      );
      const refs = JSON.stringify(objects.filter((o) => o.kind !== 'Secret')).matchAll(
        /"secretKeyRef":\{"name":"([^"]+)","key":"([^"]+)"\}/g,
      );
      for (const [, name, key] of refs) expect(secrets.get(name)).toContain(key);
    }
  });

  it('sandbox-service replicas are reachable at their pod address and named after their pod', () => {
    const env = envOf(rendered.base, 'sandbox-service');
    expect(env).toMatchObject({
      BRIDGE_HOST: '0.0.0.0',
      BRIDGE_PORT: '7700',
      BRIDGE_PUBLIC_URL: 'http://{ip}:7700',
      SANDBOX_REPLICA_ID: { fieldRef: { fieldPath: 'metadata.name' } },
    });
  });

  it('production: three replicas of everything, E2B sandboxes with the key from the Secret', () => {
    for (const name of SERVICES)
      expect(find(rendered.production, 'Deployment', name).spec.replicas).toBe(3);
    expect(find(rendered.production, 'ConfigMap', 'athenic-config').data!.SANDBOX_PROVIDER).toBe(
      'e2b',
    );
    expect(envOf(rendered.production, 'sandbox-service').E2B_API_KEY).toEqual({
      secretKeyRef: { name: 'athenic-secrets', key: 'e2b-api-key' },
    });
    expect(find(rendered.base, 'ConfigMap', 'athenic-config').data!.SANDBOX_PROVIDER).toBe('local');
  });
});
