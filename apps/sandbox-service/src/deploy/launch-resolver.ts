import { type McpServerEntry, parseLaunchValue } from '@athenic/contracts';
import type { InstalledPackage } from '@athenic/mcp-packages';
import * as path from 'node:path';
import { DeployError, type SandboxPaths, type SandboxSpec } from '../providers/sandbox-provider';

export interface LaunchInput {
  entry: McpServerEntry;
  installed: InstalledPackage | undefined;
  credentials: Record<string, string>;
  config: Record<string, unknown>;
  paths: SandboxPaths;
}

export type ResolvedLaunch = Pick<SandboxSpec, 'program' | 'env' | 'files' | 'packageInstallDir'>;

const CREDENTIAL_FILES = '.credentials';

/**
 * Turns a server type's launch spec into what the sandbox runs: references to credentials and
 * config replaced by their values, credential files written into the working dir, paths as the
 * sandbox sees them. A config value left out takes its schema's `default`; a missing optional
 * value without one drops its environment variable; an argument that
 * needs a missing value is a deploy error naming it.
 */
export function resolveLaunch(input: LaunchInput): ResolvedLaunch {
  const { entry, installed, credentials, config, paths } = input;
  const launch = entry.launch;
  if (!launch) throw new DeployError(`The server type ${entry.id} has no launch spec.`);
  const files: SandboxSpec['files'] = [];
  const resolve = (value: string, where: string): string | undefined => {
    const ref = parseLaunchValue(value);
    switch (ref.kind) {
      case 'literal':
        return ref.value;
      case 'credential':
        return credentials[ref.key];
      case 'credential-file': {
        if (credentials[ref.key] === undefined) return undefined;
        files.push({
          path: path.posix.join(CREDENTIAL_FILES, ref.key),
          content: credentials[ref.key],
        });
        return path.posix.join(paths.workdir, CREDENTIAL_FILES, ref.key);
      }
      case 'credential-headers': {
        const raw = credentials[ref.key];
        return raw === undefined ? undefined : headerList(raw, ref.key);
      }
      case 'config': {
        // A setting left out takes its schema's default (a mail server's usual port).
        const raw = config[ref.key] ?? schemaDefault(entry.config_schema, ref.key);
        if (raw === undefined || raw === null) return undefined;
        return typeof raw === 'string' ? raw : JSON.stringify(raw);
      }
      case 'workdir':
        return path.posix.normalize(path.posix.join(paths.workdir, ref.path));
      default:
        throw new DeployError(`${where} has an unknown reference.`);
    }
  };

  const args = launch.args.map((arg, i) => {
    const value = resolve(arg, `launch.args[${i}]`);
    if (value === undefined)
      throw new DeployError(
        `The server type needs "${parseLaunchValue(arg).kind === 'config' ? 'config' : 'credential'}" value for launch argument ${i + 1} (${arg}); provide it and start again.`,
      );
    return value;
  });
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(launch.env)) {
    const resolved = resolve(value, `launch.env.${name}`);
    if (resolved !== undefined) env[name] = resolved;
  }

  if (!entry.package) {
    return { program: { kind: 'node', args }, env, files, packageInstallDir: null };
  }
  if (!installed || installed.version !== entry.version) {
    throw new DeployError(
      `The package ${entry.package}@${entry.version} is not installed on this host; run the platform's setup.`,
    );
  }
  const root = paths.packageRoot || installed.installDir;
  const packagePath = path.posix.join(root, 'node_modules', installed.name);
  if (launch.command === 'node') {
    return { program: { kind: 'node', args }, env, files, packageInstallDir: installed.installDir };
  }
  const bin = installed.binPaths[launch.command];
  if (!bin)
    throw new DeployError(`The package ${installed.name} has no executable "${launch.command}".`);
  return {
    program: { kind: 'script', path: path.posix.join(packagePath, bin), args },
    env,
    files,
    packageInstallDir: installed.installDir,
  };
}

function schemaDefault(schema: unknown, key: string): unknown {
  const properties = (schema as { properties?: Record<string, { default?: unknown } | null> })
    ?.properties;
  return properties?.[key]?.default;
}

/** A JSON object of headers as `Name:Value,Name2:Value2` (the form the OpenAPI server reads). */
function headerList(raw: string, key: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new DeployError(`The credential ${key} must be JSON text of an object of headers.`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new DeployError(`The credential ${key} must be a JSON object of headers.`);
  }
  return Object.entries(parsed as Record<string, unknown>)
    .map(([name, value]) => {
      if (typeof value !== 'string' || value.includes(',') || !/^[A-Za-z0-9-]+$/.test(name)) {
        throw new DeployError(
          `The credential ${key} has a header that cannot be passed (${name}): names must be tokens, values strings without commas.`,
        );
      }
      return `${name}:${value}`;
    })
    .join(',');
}
