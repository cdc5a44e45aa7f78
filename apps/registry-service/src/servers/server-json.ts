import {
  type CreateMcpServerCommand,
  DomainError,
  NPM_PACKAGE_PATTERN,
  SERVER_ID_PATTERN,
} from '@athenic/contracts';
import type { InstalledPackage } from '@athenic/mcp-packages';
import { installCommand } from './server-type-rules';

/**
 * The official MCP Registry's `server.json` (schemas 2025-09-29 and later; see
 * test/fixtures/server-json/ for the documents of the shipped servers), read as far as the
 * platform can run it: one npm package started over stdio. Remotes are refused for now.
 */
interface Input {
  value?: unknown;
  valueHint?: unknown;
  description?: unknown;
  isRequired?: unknown;
  isSecret?: unknown;
  default?: unknown;
  choices?: unknown;
  variables?: unknown;
}
interface Argument extends Input {
  type?: unknown;
  name?: unknown;
  isRepeated?: unknown;
}
interface EnvironmentVariable extends Input {
  name?: unknown;
}
interface Package {
  registryType?: unknown;
  identifier?: unknown;
  version?: unknown;
  transport?: { type?: unknown };
  packageArguments?: unknown;
  environmentVariables?: unknown;
}

/** A reverse-DNS name with one slash, as the registry publishes (`io.github.owner/server`). */
const NAME_PATTERN = /^[a-zA-Z0-9.-]{1,100}\/[a-zA-Z0-9._-]{1,100}$/;
const MAX_CREDENTIAL = 8192;
/** A `{variable}` standing for the whole value. */
const WHOLE_VARIABLE = /^\{([A-Za-z_][A-Za-z0-9_-]*)\}$/;

export interface ServerJsonPackage {
  name: string;
  version: string;
}

/** The npm package a document runs (`name`, exact `version`), or a 400 naming what is missing. */
export function serverJsonPackage(document: Record<string, unknown>): ServerJsonPackage {
  const problems: string[] = [];
  if (typeof document.name !== 'string' || !NAME_PATTERN.test(document.name))
    problems.push('name must be the registry name of the server, such as "io.github.owner/server"');
  const remotes = document.remotes;
  if (remotes !== undefined && (!Array.isArray(remotes) || remotes.length > 0))
    problems.push(
      'remotes (streamable-http or sse servers) are not supported yet; only a server from an npm package can be imported',
    );
  const pkg = npmPackage(document, problems);
  fail(problems);
  return { name: pkg!.identifier as string, version: pkg!.version as string };
}

/**
 * The template or type a `server.json` document describes, for a package installed here:
 * `packageArguments` and `environmentVariables` become the launch spec; every value the user
 * supplies becomes a credential field (`isSecret` ones write-only; `isRequired` ones required;
 * `description`, `default` and `choices` kept). Throws `validation_failed` naming each problem.
 */
export function fromServerJson(
  document: Record<string, unknown>,
  installed: InstalledPackage | undefined,
  id?: string,
): Omit<CreateMcpServerCommand, 'visibility' | 'account_id'> {
  const { name: identifier, version } = serverJsonPackage(document);
  const spec = `${identifier}@${version}`;
  const problems: string[] = [];
  if (!installed || installed.version !== version) {
    fail([
      `package ${spec} is not installed${installed ? ` (version ${installed.version} is)` : ''}; an operator installs it with "${installCommand(spec)}" first`,
    ]);
  }
  const pkg = npmPackage(document, problems)!;
  const properties: Record<string, Record<string, unknown>> = {};
  const required: string[] = [];

  /** A value given in the document, or a reference to a credential the user supplies. */
  const valueOf = (input: Input, key: string, field: string): string | undefined => {
    if (input.value !== undefined) {
      if (typeof input.value !== 'string') {
        problems.push(`${field}.value must be a string`);
        return undefined;
      }
      const whole = WHOLE_VARIABLE.exec(input.value);
      if (whole) {
        const variables = (input.variables ?? {}) as Record<string, Input>;
        const variable = variables[whole[1]];
        if (!variable || typeof variable !== 'object') {
          problems.push(`${field}.value names {${whole[1]}}, which ${field}.variables lacks`);
          return undefined;
        }
        return credential(variable, credentialKey(whole[1]), `${field}.variables.${whole[1]}`);
      }
      if (/\{[^}]*\}/.test(input.value)) {
        problems.push(
          `${field}.value mixes text and {variables}; only a value that is one variable can be imported`,
        );
        return undefined;
      }
      return input.value;
    }
    return credential(input, key, field);
  };
  const credential = (input: Input, key: string, field: string): string | undefined => {
    if (properties[key]) {
      problems.push(`${field} names the input "${key}" twice`);
      return undefined;
    }
    const property: Record<string, unknown> = {
      type: 'string',
      minLength: 1,
      maxLength: MAX_CREDENTIAL,
    };
    if (typeof input.description === 'string') property.description = input.description;
    if (typeof input.default === 'string') property.default = input.default;
    if (Array.isArray(input.choices) && input.choices.every((c) => typeof c === 'string'))
      property.enum = input.choices;
    if (input.isSecret === true) property.writeOnly = true;
    properties[key] = property;
    if (input.isRequired === true) required.push(key);
    return `credential:${key}`;
  };

  const args: string[] = [];
  const packageArguments = list(pkg.packageArguments, 'packageArguments', problems) as Argument[];
  packageArguments.forEach((arg, i) => {
    const field = `packages[].packageArguments[${i}]`;
    if (arg.isRepeated === true) {
      problems.push(`${field}.isRepeated is not supported`);
      return;
    }
    if (arg.type === 'named') {
      if (typeof arg.name !== 'string' || arg.name === '') {
        problems.push(`${field}.name must be the argument's name, such as "--port"`);
        return;
      }
      if (arg.value === undefined && arg.valueHint === undefined) {
        args.push(arg.name);
        return;
      }
      // An optional value the user does not give: the whole argument is left out.
      if (arg.value === undefined && arg.isRequired !== true) return;
      const value = valueOf(arg, credentialKey(arg.name), field);
      if (value !== undefined) args.push(arg.name, value);
    } else if (arg.type === 'positional') {
      if (arg.value === undefined && arg.isRequired !== true) return;
      const hint = typeof arg.valueHint === 'string' ? arg.valueHint : `argument_${i + 1}`;
      const value = valueOf(arg, credentialKey(hint), field);
      if (value !== undefined) args.push(value);
    } else {
      problems.push(`${field}.type must be "positional" or "named"`);
    }
  });

  const env: Record<string, string> = {};
  const variables = list(
    pkg.environmentVariables,
    'environmentVariables',
    problems,
  ) as EnvironmentVariable[];
  variables.forEach((variable, i) => {
    const field = `packages[].environmentVariables[${i}]`;
    if (typeof variable.name !== 'string' || variable.name === '') {
      problems.push(`${field}.name must be the variable's name`);
      return;
    }
    const value = valueOf(variable, credentialKey(variable.name), field);
    if (value !== undefined) env[variable.name] = value;
  });
  fail(problems);

  const registryName = document.name as string;
  const entryId = id ?? idFrom(registryName);
  if (!SERVER_ID_PATTERN.test(entryId))
    fail([`no id can be derived from name "${registryName}"; give one with ?id=`]);
  const bins = installed!.bins;
  const unscoped = identifier.split('/').pop()!;
  const command = bins.length === 1 ? bins[0] : (bins.find((b) => b === unscoped) ?? bins[0]);
  if (!command)
    fail([`package ${spec} declares no executable, so it cannot be started as a stdio server`]);
  const title = typeof document.title === 'string' ? document.title : registryName;
  const description = typeof document.description === 'string' ? document.description : '';
  return {
    id: entryId,
    name: title.slice(0, 120),
    description: description.slice(0, 2000),
    category: 'imported',
    transport: 'stdio',
    package: spec,
    launch: { command, args, env },
    credential_schema: {
      type: 'object',
      additionalProperties: false,
      required,
      properties,
    },
    config_schema: { type: 'object', additionalProperties: false, properties: {} },
    // server.json declares no network needs: the entry reaches nothing until its egress is set.
    egress: [],
  };
}

function npmPackage(document: Record<string, unknown>, problems: string[]): Package | undefined {
  const packages = document.packages;
  if (!Array.isArray(packages) || packages.length === 0) {
    problems.push('packages must list the npm package that runs the server');
    return undefined;
  }
  const npm = packages.filter(
    (p): p is Package => typeof p === 'object' && p !== null && p.registryType === 'npm',
  );
  if (npm.length === 0) {
    const types = packages.map((p) => String((p as Package)?.registryType)).join(', ');
    problems.push(`only npm packages can be imported (the document has: ${types})`);
    return undefined;
  }
  const pkg = npm[0];
  if (pkg.transport?.type !== undefined && pkg.transport.type !== 'stdio')
    problems.push(
      `packages[].transport.type "${String(pkg.transport.type)}" is not supported yet; only "stdio"`,
    );
  if (typeof pkg.identifier !== 'string' || typeof pkg.version !== 'string') {
    problems.push('packages[].identifier and packages[].version must name the npm package');
  } else if (!NPM_PACKAGE_PATTERN.test(`${pkg.identifier}@${pkg.version}`)) {
    problems.push(
      `packages[] must name an npm package with an exact version, not "${pkg.identifier}@${pkg.version}"`,
    );
  }
  return pkg;
}

function list(value: unknown, field: string, problems: string[]): object[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'object' || v === null)) {
    problems.push(`packages[].${field} must be an array of objects`);
    return [];
  }
  return value as object[];
}

/** `GITHUB_TOKEN` → `github_token`, `--db-path` → `db_path`. */
function credentialKey(name: string): string {
  return name
    .replace(/^-+/, '')
    .toLowerCase()
    .replace(/[^a-z0-9_]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, 64);
}

/** `io.github.modelcontextprotocol/server-memory` → `server-memory`. */
function idFrom(name: string): string {
  return name
    .split('/')
    .pop()!
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
}

function fail(problems: string[]): void {
  if (problems.length > 0)
    throw new DomainError(
      'validation_failed',
      `Cannot import this server.json: ${problems[0]}.`,
      problems,
    );
}
