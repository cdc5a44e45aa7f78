#!/usr/bin/env node
// Renders deploy/kubernetes offline, as `kustomize build` would for what these manifests use
// (resources, namespace, labels, images, generated Secrets by name, JSON 6902 patches), and
// validates every object against the Kubernetes OpenAPI schemas (kubernetes-models, no cluster
// needed). Prints {"base": [...], "production": [...]} on stdout; exit 1 with every problem on
// stderr. CI runs it through test/unit/kubernetes.spec.ts.
//   node scripts/render-kubernetes.mjs
import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import jsonPatch from 'fast-json-patch';
import { parseAllDocuments, parse } from 'yaml';
import * as models from 'kubernetes-models';

const root = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '..',
  'deploy',
  'kubernetes',
);
const problems = [];

function load(dir) {
  const kustomization = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8'));
  let objects = [];
  for (const resource of kustomization.resources ?? []) {
    const target = path.join(dir, resource);
    if (existsSync(path.join(target, 'kustomization.yaml'))) {
      objects.push(...load(target));
      continue;
    }
    if (!existsSync(target)) {
      problems.push(`${path.relative(root, dir)}: resource ${resource} does not exist`);
      continue;
    }
    for (const doc of parseAllDocuments(readFileSync(target, 'utf8'))) {
      if (doc.errors.length) problems.push(`${resource}: ${doc.errors[0].message}`);
      const value = doc.toJS();
      if (value) objects.push(value);
    }
  }
  for (const generator of kustomization.secretGenerator ?? []) {
    for (const env of generator.envs ?? []) {
      if (!existsSync(path.join(dir, `${env}.example`)))
        problems.push(
          `${path.relative(root, dir)}: secretGenerator ${generator.name} has no ${env}.example`,
        );
    }
    const keys = (generator.envs ?? []).flatMap((env) =>
      readFileSync(path.join(dir, `${env}.example`), 'utf8')
        .split('\n')
        .filter((line) => line && !line.startsWith('#'))
        .map((line) => line.split('=')[0]),
    );
    objects.push({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: generator.name },
      type: 'Opaque',
      stringData: Object.fromEntries(keys.map((k) => [k, 'generated'])),
    });
  }
  for (const patch of kustomization.patches ?? []) {
    const operations = parse(readFileSync(path.join(dir, patch.path), 'utf8'));
    const matching = objects.filter(
      (o) =>
        (!patch.target.kind || o.kind === patch.target.kind) &&
        (!patch.target.name || o.metadata?.name === patch.target.name),
    );
    if (matching.length === 0) problems.push(`${patch.path}: its target matches nothing`);
    objects = objects.map((o) => {
      if (!matching.includes(o)) return o;
      try {
        return jsonPatch.applyPatch(structuredClone(o), operations, true, false).newDocument;
      } catch (error) {
        problems.push(`${patch.path} on ${o.kind}/${o.metadata?.name}: ${error.message}`);
        return o;
      }
    });
  }
  for (const object of objects) {
    if (kustomization.namespace && object.kind !== 'Namespace')
      object.metadata = { ...object.metadata, namespace: kustomization.namespace };
    for (const { pairs } of kustomization.labels ?? [])
      object.metadata = { ...object.metadata, labels: { ...object.metadata?.labels, ...pairs } };
    for (const image of kustomization.images ?? []) {
      const spec = object.spec?.template?.spec ?? object.spec?.jobTemplate?.spec?.template?.spec;
      for (const container of spec?.containers ?? [])
        if (container.image === image.name)
          container.image = `${image.newName ?? image.name}:${image.newTag ?? 'latest'}`;
    }
  }
  return objects;
}

/** Every model class of kubernetes-models (group -> version -> kind), by "apiVersion kind". */
const MODELS = new Map();
(function collect(namespace, depth) {
  for (const value of Object.values(namespace)) {
    if (typeof value === 'function' && value.apiVersion && value.kind)
      MODELS.set(`${value.apiVersion} ${value.kind}`, value);
    else if (value && typeof value === 'object' && depth < 3) collect(value, depth + 1);
  }
})(models, 0);

function validate(objects, label) {
  for (const object of objects) {
    const Model = MODELS.get(`${object.apiVersion} ${object.kind}`);
    const name = `${label}: ${object.kind}/${object.metadata?.name}`;
    if (!Model) {
      problems.push(`${name}: no schema for ${object.apiVersion} ${object.kind}`);
      continue;
    }
    try {
      new Model(object).validate();
    } catch (error) {
      problems.push(`${name}: ${error.message}`);
    }
  }
}

const rendered = {
  base: load(path.join(root, 'base')),
  production: load(path.join(root, 'overlays', 'production')),
};
for (const [label, objects] of Object.entries(rendered)) validate(objects, label);
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(JSON.stringify(rendered));
