import { DomainError, type McpServerEntry } from '@athenic/contracts';
import Ajv, { type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

/** Settings every connection may have, whatever its type. */
const PLATFORM_KEYS: Record<string, (value: unknown) => string | undefined> = {
  persistent_storage: (v) => (typeof v === 'boolean' ? undefined : 'must be true or false'),
};

/**
 * Checks a connection's config against its server type's config schema, plus the platform's own
 * keys (`persistent_storage`). Each problem names its key.
 */
export function checkConfig(entry: McpServerEntry, config: Record<string, unknown>): void {
  const problems: string[] = [];
  const own: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    const platformRule = PLATFORM_KEYS[key];
    if (platformRule) {
      const problem = platformRule(value);
      if (problem) problems.push(`config.${key} ${problem}`);
    } else own[key] = value;
  }
  const cacheKey = `${entry.id}:${entry.updated_at}`;
  let validate = compiled.get(cacheKey);
  if (!validate) {
    validate = ajv.compile(entry.config_schema);
    compiled.set(cacheKey, validate);
  }
  if (!validate(own)) problems.push(...(validate.errors ?? []).map(describe));
  if (problems.length > 0)
    throw new DomainError(
      'validation_failed',
      `Invalid config for ${entry.id}: ${problems[0]}.`,
      problems,
    );
}

function describe(error: ErrorObject): string {
  const key = error.instancePath.replace(/^\//, '').replace(/\//g, '.');
  switch (error.keyword) {
    case 'required':
      return `config.${(error.params as { missingProperty: string }).missingProperty} is required`;
    case 'additionalProperties':
      return `config.${(error.params as { additionalProperty: string }).additionalProperty} is not a setting of this server type`;
    default:
      return `config${key ? `.${key}` : ''} ${error.message ?? 'is invalid'}`;
  }
}
