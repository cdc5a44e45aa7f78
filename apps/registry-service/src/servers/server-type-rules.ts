import {
  checkRemoteTemplate,
  isRemoteTransport,
  type McpServerFields,
  parseLaunchValue,
} from '@athenic/contracts';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { InstalledPackage } from '@athenic/mcp-packages';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** Variables the sandbox sets itself or that would change how Node or the loader behave. */
const RESERVED_ENV = /^(PATH|HOME|TMPDIR|USER|NODE_OPTIONS|NODE_PATH|LD_.*|DYLD_.*|ATHENIC_.*)$/;
const MAX_CREDENTIAL_LENGTH = 8192;
/** The largest credential or config schema, as JSON text. */
export const MAX_SCHEMA_BYTES = 16 * 1024;
/** Properties of one credential or config schema. */
export const MAX_SCHEMA_PROPERTIES = 64;
/** A template's launch arguments and environment variables. */
export const MAX_TEMPLATE_ARGS = 32;
export const MAX_TEMPLATE_ENV = 32;
/** Config keys every connection may set, whatever its type. */
export const PLATFORM_CONFIG_KEYS = ['persistent_storage'];

const ajv = new Ajv({ strict: true, allErrors: true });
// A field whose value is a place to connect to: the connection's egress target (docs/security/egress.md).
ajv.addKeyword({ keyword: 'x-egress-target', schemaType: 'boolean' });
// A target that is a bare host names the sibling field holding its port (`"imap_port"`).
ajv.addKeyword({ keyword: 'x-egress-port', schemaType: 'string' });
addFormats(ajv);

type SchemaObject = {
  type?: unknown;
  properties?: Record<string, Record<string, unknown>>;
  required?: unknown;
  additionalProperties?: unknown;
};

/** The command that installs a package for the platform's sandboxes (scripts/mcp-add.mjs). */
export function installCommand(spec: string): string {
  return `npm run mcp:add -- ${spec}`;
}

/**
 * The rules a server type must meet beyond the shape of its fields: the schemas compile, are
 * strict and small, every reference of the launch spec names a declared key, the command belongs
 * to the installed package. A template of an account (`template`) must run an executable of an
 * installed package, never `node` or any other command, with at most 32 arguments and 32
 * variables. A remote type or template ("streamable-http", "sse") has a URL and header templates
 * instead (`checkRemoteTemplate`), no package, launch or egress. Returns one line per problem,
 * naming the field.
 */
export function checkServerType(
  type: McpServerFields,
  installed: InstalledPackage | undefined,
  template = false,
): string[] {
  const problems: string[] = [];
  const credentials = checkObjectSchema('credential_schema', type.credential_schema, problems);
  const config = checkObjectSchema('config_schema', type.config_schema, problems);

  for (const [key, property] of Object.entries(credentials.properties ?? {})) {
    if (typeof property !== 'object' || property === null) {
      problems.push(`credential_schema.properties.${key} must be an object`);
      continue;
    }
    if (property.type !== 'string')
      problems.push(`credential_schema.properties.${key} must have type "string"`);
    const max = property.maxLength;
    if (typeof max !== 'number' || max > MAX_CREDENTIAL_LENGTH) {
      problems.push(
        `credential_schema.properties.${key} must set maxLength of at most ${MAX_CREDENTIAL_LENGTH}`,
      );
    }
  }
  for (const key of Object.keys(config.properties ?? {})) {
    if (PLATFORM_CONFIG_KEYS.includes(key))
      problems.push(
        `config_schema.properties.${key} is a platform setting and cannot be redeclared`,
      );
  }

  if (isRemoteTransport(type.transport)) {
    // A remote server runs elsewhere: no package, no launch spec, no declared egress of its own
    // (its URL is its one place to reach, checked by the egress rule at install and connect).
    // The same rules hold for a public type and for an account's template.
    if (type.package)
      problems.push(`package is for stdio servers; a ${type.transport} server has none`);
    if (type.launch)
      problems.push(`launch is for stdio servers; a ${type.transport} server has none`);
    if (type.egress.length > 0)
      problems.push('egress must be [] for a remote server: its URL is the one place it reaches');
    if (!type.remote) problems.push(`remote is required for a ${type.transport} server`);
    else
      problems.push(
        ...checkRemoteTemplate(type.remote, type.config_schema, type.credential_schema),
      );
    return problems;
  }
  if (type.remote) problems.push('remote is for "streamable-http" and "sse" servers, not stdio');
  if (!type.launch) {
    problems.push('launch is required for a stdio server');
    return problems;
  }
  const launch = type.launch;
  if (template && !type.package) {
    problems.push(
      'package is required for a template: it runs an executable of an npm package the operator installed (name@version)',
    );
  } else if (type.package) {
    if (!installed) {
      problems.push(
        `package ${type.package} is not installed; an operator installs it with "${installCommand(type.package)}" first`,
      );
    } else if (template && !installed.bins.includes(launch.command)) {
      problems.push(
        `launch.command must be an executable of ${installed.name} (${installed.bins.join(', ') || 'none'}); a template cannot run any other command`,
      );
    } else if (launch.command !== 'node' && !installed.bins.includes(launch.command)) {
      problems.push(
        `launch.command must be "node" or an executable of ${installed.name} (${installed.bins.join(', ') || 'none'})`,
      );
    }
  } else if (launch.command !== 'node') {
    problems.push('launch.command must be "node" when no package is given');
  }

  const check = (field: string, value: unknown) => {
    if (typeof value !== 'string') return problems.push(`${field} must be a string`);
    if (value.length > 16384) return problems.push(`${field} must be at most 16384 characters`);
    const ref = parseLaunchValue(value);
    switch (ref.kind) {
      case 'literal':
        return;
      case 'credential':
      case 'credential-file':
      case 'credential-headers':
        if (!credentials.properties?.[ref.key])
          problems.push(
            `${field} refers to credential "${ref.key}", which credential_schema does not declare`,
          );
        return;
      case 'config':
        if (!config.properties?.[ref.key])
          problems.push(
            `${field} refers to config "${ref.key}", which config_schema does not declare`,
          );
        return;
      case 'workdir':
        if (ref.path.startsWith('/') || ref.path.split('/').includes('..') || ref.path === '') {
          problems.push(
            `${field} must name a relative path inside the working dir (no "/" prefix, no "..")`,
          );
        }
        return;
    }
  };
  if (template && launch.args.length > MAX_TEMPLATE_ARGS)
    problems.push(`launch.args must have at most ${MAX_TEMPLATE_ARGS} items in a template`);
  const envCount = Object.keys(launch.env).length;
  if (envCount > (template ? MAX_TEMPLATE_ENV : 64))
    problems.push(
      `launch.env must have at most ${template ? MAX_TEMPLATE_ENV : 64} variables${template ? ' in a template' : ''}`,
    );
  launch.args.forEach((arg, i) => check(`launch.args[${i}]`, arg));
  for (const [name, value] of Object.entries(launch.env)) {
    if (!ENV_NAME.test(name)) problems.push(`launch.env.${name} is not a valid variable name`);
    else if (RESERVED_ENV.test(name))
      problems.push(`launch.env.${name} is set by the sandbox and cannot be overridden`);
    check(`launch.env.${name}`, value);
  }
  return problems;
}

function checkObjectSchema(
  field: string,
  schema: Record<string, unknown>,
  problems: string[],
): SchemaObject {
  const s = schema as SchemaObject;
  const bytes = Buffer.byteLength(JSON.stringify(schema), 'utf8');
  if (bytes > MAX_SCHEMA_BYTES) {
    problems.push(`${field} must be at most ${MAX_SCHEMA_BYTES} bytes of JSON (it has ${bytes})`);
    return {};
  }
  if (
    s.properties &&
    typeof s.properties === 'object' &&
    Object.keys(s.properties).length > MAX_SCHEMA_PROPERTIES
  )
    problems.push(`${field}.properties must have at most ${MAX_SCHEMA_PROPERTIES} keys`);
  if (s.type !== 'object') problems.push(`${field}.type must be "object"`);
  if (s.additionalProperties !== false)
    problems.push(`${field}.additionalProperties must be false, so unknown keys are refused`);
  if (s.properties !== undefined && (typeof s.properties !== 'object' || s.properties === null)) {
    problems.push(`${field}.properties must be an object`);
    return {};
  }
  if (Array.isArray(s.required)) {
    for (const key of s.required) {
      if (typeof key !== 'string' || !s.properties?.[key])
        problems.push(`${field}.required names "${String(key)}", which is not in properties`);
    }
  }
  for (const [key, property] of Object.entries(s.properties ?? {})) {
    const portField = (property as Record<string, unknown> | null)?.['x-egress-port'];
    if (portField === undefined) continue;
    const port = typeof portField === 'string' ? s.properties?.[portField] : undefined;
    if (property['x-egress-target'] !== true)
      problems.push(`${field}.properties.${key} has x-egress-port but is not an x-egress-target`);
    if (!port || (port.type !== 'integer' && port.type !== 'string'))
      problems.push(
        `${field}.properties.${key}.x-egress-port must name an integer or string property of ${field}`,
      );
  }
  try {
    ajv.compile(schema);
  } catch (error) {
    problems.push(`${field} is not a valid JSON Schema: ${(error as Error).message}`);
  }
  return s;
}
