import {
  checkRemoteTemplate,
  type CreateMcpServerCommand,
  DomainError,
  MAX_REMOTE_URL_LENGTH,
  NPM_PACKAGE_PATTERN,
  type RemoteTransport,
  SERVER_ID_PATTERN,
} from '@athenic/contracts';
import type { InstalledPackage } from '@athenic/mcp-packages';
import { installCommand } from './server-type-rules';

/**
 * The official MCP Registry's `server.json` (schemas 2025-09-29 and later; see
 * test/fixtures/server-json/ for the documents of the shipped servers and of hosted ones), read
 * as far as the platform can run it: its npm package started over stdio when it has one, else its
 * first remote (`streamable-http`, else `sse`) as a remote server type (a URL and header
 * templates, libs/contracts/src/registry/remote-template.ts). Other package types are refused.
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
/** A header of a remote (a KeyValueInput); `value` may hold `{variables}` of its `variables`. */
interface KeyValueInput extends Input {
  name?: unknown;
}
/** `remotes[]`: a transport (`type`, `url`, `headers`) and the `variables` of its URL. */
interface Remote {
  type?: unknown;
  url?: unknown;
  headers?: unknown;
  variables?: unknown;
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

/**
 * The npm package a document runs (`name`, exact `version`); undefined when it has no npm package
 * but `remotes`, which it is imported from (nothing to install). A 400 naming what is wrong: the
 * name, an npm package without an exact version, neither an npm package nor a remote.
 */
export function serverJsonPackage(
  document: Record<string, unknown>,
): ServerJsonPackage | undefined {
  const problems: string[] = [];
  if (typeof document.name !== 'string' || !NAME_PATTERN.test(document.name))
    problems.push('name must be the registry name of the server, such as "io.github.owner/server"');
  if (!hasNpmPackage(document) && hasRemotes(document)) {
    fail(problems);
    return undefined;
  }
  const pkg = npmPackage(document, problems);
  fail(problems);
  return { name: pkg!.identifier as string, version: pkg!.version as string };
}

/**
 * The template or type a `server.json` document describes: from its npm package when it has one
 * (`installed` is that package as installed here, see `fromPackage`), else from its first remote
 * (`fromRemote`). Throws `validation_failed` naming each problem.
 */
export function fromServerJson(
  document: Record<string, unknown>,
  installed: InstalledPackage | undefined,
  id?: string,
): Omit<CreateMcpServerCommand, 'visibility' | 'account_id'> {
  const pkg = serverJsonPackage(document);
  return pkg ? fromPackage(document, pkg, installed, id) : fromRemote(document, id);
}

/**
 * A stdio type for a package installed here: `packageArguments` and `environmentVariables` become
 * the launch spec; every value the user supplies becomes a credential field (`isSecret` ones
 * write-only; `isRequired` ones required; `description`, `default` and `choices` kept).
 */
function fromPackage(
  document: Record<string, unknown>,
  { name: identifier, version }: ServerJsonPackage,
  installed: InstalledPackage | undefined,
  id: string | undefined,
): Omit<CreateMcpServerCommand, 'visibility' | 'account_id'> {
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
    const property = described({ type: 'string', minLength: 1, maxLength: MAX_CREDENTIAL }, input);
    if (input.isSecret === true) property.writeOnly = true;
    properties[key] = property;
    if (input.isRequired === true) required.push(key);
    return `credential:${key}`;
  };

  const args: string[] = [];
  const packageArguments = list(
    pkg.packageArguments,
    'packages[].packageArguments',
    problems,
  ) as Argument[];
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
    'packages[].environmentVariables',
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

  const entry = entryFields(document, id);
  const bins = installed!.bins;
  const unscoped = identifier.split('/').pop()!;
  const command = bins.length === 1 ? bins[0] : (bins.find((b) => b === unscoped) ?? bins[0]);
  if (!command)
    fail([`package ${spec} declares no executable, so it cannot be started as a stdio server`]);
  return {
    ...entry,
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

/**
 * A remote type for a document's first `streamable-http` remote, else its first `sse` one: its URL
 * and headers become the remote template, each value the user supplies a field of
 * `config_schema` (`{key}`) or, when secret, of `credential_schema` (`{credential:key}`,
 * write-only). URL `{variables}` are config keys (a secret one is refused: URLs are logged); a
 * header with a `value` keeps its text, each `{variable}` in it a field; a header without one is
 * a value the user supplies as a whole. `isRequired` makes a field required, a `{variable}` the
 * document does not declare is a required one; `description`, `default` and `choices` are kept.
 */
function fromRemote(
  document: Record<string, unknown>,
  id: string | undefined,
): Omit<CreateMcpServerCommand, 'visibility' | 'account_id'> {
  const problems: string[] = [];
  const remotes = document.remotes as unknown[];
  const usable = (type: RemoteTransport) =>
    remotes.findIndex((r) => typeof r === 'object' && r !== null && (r as Remote).type === type);
  const index = usable('streamable-http') >= 0 ? usable('streamable-http') : usable('sse');
  if (index < 0) {
    const types = remotes.map((r) => String((r as Remote | null)?.type)).join(', ');
    fail([
      `remotes has no "streamable-http" or "sse" server to import (the document has: ${types})`,
    ]);
  }
  const remote = remotes[index] as Remote;
  const transport = remote.type as RemoteTransport;
  const at = `remotes[${index}]`;
  const config = new Fields();
  const credentials = new Fields();

  let url = '';
  if (typeof remote.url !== 'string' || remote.url === '') {
    problems.push(`${at}.url must be the server's URL`);
  } else {
    const variables = inputs(remote.variables, `${at}.variables`, problems);
    url = filled(remote.url, `${at}.url`, problems, (name, key) => {
      const variable = variables[name];
      if (variable?.isSecret === true) {
        problems.push(
          `${at}.variables.${name} is secret, and a secret cannot be put in a URL (URLs are logged); the server must take it in a header`,
        );
        return undefined;
      }
      // A variable the document does not declare is needed to fill the URL all the same.
      const input = variable ?? { description: `Fills {${name}} in the server's URL` };
      const required = variable ? variable.isRequired === true : true;
      return `{${config.add(key, input, required, MAX_REMOTE_URL_LENGTH)}}`;
    });
  }

  const headers: Record<string, string> = {};
  const items = list(remote.headers, `${at}.headers`, problems) as KeyValueInput[];
  items.forEach((header, j) => {
    const field = `${at}.headers[${j}]`;
    if (typeof header.name !== 'string' || header.name === '') {
      problems.push(`${field}.name must be the header's name`);
      return;
    }
    const name = header.name;
    if (Object.keys(headers).some((n) => n.toLowerCase() === name.toLowerCase())) {
      problems.push(`${field} gives the header ${name} a second time`);
      return;
    }
    const secret = header.isSecret === true;
    if (header.value === undefined) {
      // The whole value is the user's: a secret one (an API key) is a credential.
      const key = fieldKey(name, `${field}.name`, problems);
      if (key === undefined) return;
      const required = header.isRequired === true;
      headers[name] = secret
        ? `{credential:${credentials.add(key, header, required, MAX_CREDENTIAL, true)}}`
        : `{${config.add(key, header, required, MAX_CREDENTIAL)}}`;
      return;
    }
    if (typeof header.value !== 'string') {
      problems.push(`${field}.value must be a string`);
      return;
    }
    const variables = inputs(header.variables, `${field}.variables`, problems);
    const value = filled(header.value, `${field}.value`, problems, (variableName, key) => {
      const variable = variables[variableName];
      const input: Input = variable ?? {
        description:
          typeof header.description === 'string'
            ? header.description
            : `Fills {${variableName}} in the ${name} header`,
      };
      // A required header needs its variables; an undeclared variable is needed to fill it.
      const required =
        header.isRequired === true || (variable ? variable.isRequired === true : true);
      return secret || variable?.isSecret === true
        ? `{credential:${credentials.add(key, input, required, MAX_CREDENTIAL, true)}}`
        : `{${config.add(key, input, required, MAX_CREDENTIAL)}}`;
    });
    headers[name] = value;
  });
  fail(problems);

  const result = {
    ...entryFields(document, id),
    transport,
    remote: { url, headers },
    credential_schema: credentials.schema(),
    config_schema: config.schema(),
    // A remote server's one place to reach is its URL (the egress rule checks it at install).
    egress: [],
  };
  // The rules of a remote template (checkServerType applies them again), named as in the document.
  fail(
    checkRemoteTemplate(result.remote, result.config_schema, result.credential_schema).map((p) =>
      p.replace(/^remote\./, `${at}.`),
    ),
  );
  return result;
}

/** The fields of one schema (config or credentials) a remote's values make, each key once. */
class Fields {
  private readonly properties: Record<string, Record<string, unknown>> = {};
  private readonly required: string[] = [];

  /** Declares `key` (the first declaration's description, default and choices are kept). */
  add(key: string, input: Input, required: boolean, maxLength: number, secret = false): string {
    if (!this.properties[key]) {
      const property = described({ type: 'string', minLength: 1, maxLength }, input);
      if (secret) property.writeOnly = true;
      this.properties[key] = property;
    }
    if (required && !this.required.includes(key)) this.required.push(key);
    return key;
  }

  schema(): Record<string, unknown> {
    return {
      type: 'object',
      additionalProperties: false,
      required: this.required,
      properties: this.properties,
    };
  }
}

/** `{name}`: a variable of a URL or header value. */
const VARIABLE = /\{([^{}]*)\}/g;
/** A key of a platform template (remote-template.ts). */
const KEY = /^[a-z_][a-z0-9_]{0,63}$/;

/**
 * `text` with each `{variable}` replaced by what `replace` makes of it (given the variable's
 * name and its key, normalised to [a-z0-9_]); undefined returned by `replace` is a problem it
 * pushed. A `{...}` that is no variable name, or a stray brace, is a problem naming `field`.
 */
function filled(
  text: string,
  field: string,
  problems: string[],
  replace: (name: string, key: string) => string | undefined,
): string {
  if (/[{}]/.test(text.replace(VARIABLE, ''))) {
    problems.push(`${field} has an unmatched "{" or "}"`);
    return text;
  }
  return text.replace(VARIABLE, (raw, name: string) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
      problems.push(
        `${field} holds "${raw}", which is not a {variable} (letters, digits, "_", "-", ".")`,
      );
      return raw;
    }
    const key = fieldKey(name, field, problems);
    return key === undefined ? raw : (replace(name, key) ?? raw);
  });
}

/** A name as a key of a schema (`X-API-Key` → `x_api_key`), or a problem naming `field`. */
function fieldKey(name: string, field: string, problems: string[]): string | undefined {
  const key = credentialKey(name);
  if (KEY.test(key)) return key;
  problems.push(`${field}: "${name}" cannot be made a key (it needs a letter or "_" first)`);
  return undefined;
}

/** A `variables` object: each variable's name to its Input. */
function inputs(value: unknown, field: string, problems: string[]): Record<string, Input> {
  if (value === undefined) return {};
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    Object.values(value).some((v) => typeof v !== 'object' || v === null)
  ) {
    problems.push(`${field} must be an object of variable names to their descriptions`);
    return {};
  }
  return value as Record<string, Input>;
}

/** A field's `description`, `default` and `choices` (as `enum`), when they are strings. */
function described(property: Record<string, unknown>, input: Input): Record<string, unknown> {
  if (typeof input.description === 'string') property.description = input.description;
  if (typeof input.default === 'string') property.default = input.default;
  if (Array.isArray(input.choices) && input.choices.every((c) => typeof c === 'string'))
    property.enum = input.choices;
  return property;
}

/** What every imported entry has: its id (`id`, else from the name), name, description. */
function entryFields(
  document: Record<string, unknown>,
  id: string | undefined,
): { id: string; name: string; description: string; category: string } {
  const registryName = document.name as string;
  const entryId = id ?? idFrom(registryName);
  if (!SERVER_ID_PATTERN.test(entryId))
    fail([`no id can be derived from name "${registryName}"; give one with ?id=`]);
  const title = typeof document.title === 'string' ? document.title : registryName;
  const description = typeof document.description === 'string' ? document.description : '';
  return {
    id: entryId,
    name: title.slice(0, 120),
    description: description.slice(0, 2000),
    category: 'imported',
  };
}

function hasNpmPackage(document: Record<string, unknown>): boolean {
  return (
    Array.isArray(document.packages) &&
    document.packages.some(
      (p) => typeof p === 'object' && p !== null && (p as Package).registryType === 'npm',
    )
  );
}

function hasRemotes(document: Record<string, unknown>): boolean {
  return Array.isArray(document.remotes) && document.remotes.length > 0;
}

function npmPackage(document: Record<string, unknown>, problems: string[]): Package | undefined {
  const packages = document.packages;
  if (!Array.isArray(packages) || packages.length === 0) {
    problems.push(
      'the document has no server to import: packages must list an npm package, or remotes a streamable-http or sse server',
    );
    return undefined;
  }
  const npm = packages.filter(
    (p): p is Package => typeof p === 'object' && p !== null && p.registryType === 'npm',
  );
  if (npm.length === 0) {
    const types = packages.map((p) => String((p as Package)?.registryType)).join(', ');
    problems.push(
      `only npm packages can be imported (the document has: ${types}), or remotes, which it lacks`,
    );
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
    problems.push(`${field} must be an array of objects`);
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
