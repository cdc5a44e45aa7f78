import { DomainError, RegistryServerGet } from '@athenic/contracts';
import { EgressGuard, refuseDeniedTargets } from '@athenic/egress';
import { BusClient } from '@athenic/messaging';
import { Injectable } from '@nestjs/common';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

const CACHE_MS = 30_000;
/** The platform's own cap on any credential value, whatever a schema says. */
export const MAX_CREDENTIAL_BYTES = 8192;

interface CompiledSchema {
  schema: Record<string, unknown>;
  validate: ValidateFunction;
  jsonKeys: Set<string>;
  known: Set<string>;
  at: number;
}

/**
 * Checks credential values against the credential schema of their server type (from the
 * registry): a missing required key, an unknown key, a wrong type or an oversized value is
 * refused with a message naming the key; so is a place to connect to that no sandbox may reach
 * (`egress_denied`, docs/security/egress.md).
 */
@Injectable()
export class CredentialSchemas {
  private readonly ajv = new Ajv({ allErrors: true, strict: false });
  private readonly cache = new Map<string, CompiledSchema>();

  constructor(
    private readonly bus: BusClient,
    private readonly guard: EgressGuard,
  ) {}

  async check(
    mcpServerId: string,
    values: Record<string, string>,
    field = 'provided_credential_schema',
  ): Promise<void> {
    const schema = await this.schemaOf(mcpServerId);
    const problems: string[] = [];
    for (const [key, value] of Object.entries(values)) {
      if (Buffer.byteLength(value, 'utf8') > MAX_CREDENTIAL_BYTES)
        problems.push(`${field}.${key} must be at most 8 KiB`);
      if (schema.jsonKeys.has(key) && typeof value === 'string' && !isJsonObject(value)) {
        problems.push(`${field}.${key} must be JSON text of an object`);
      }
    }
    if (!schema.validate(values))
      problems.push(...(schema.validate.errors ?? []).map((e) => describe(e, field)));
    if (problems.length > 0) {
      throw new DomainError(
        'validation_failed',
        `Invalid credentials for ${mcpServerId}: ${problems[0]}.`,
        [...new Set(problems)],
      );
    }
    // A place to connect to that no sandbox may reach is refused now, before anything is stored.
    await refuseDeniedTargets(this.guard, schema.schema, values, field, true);
  }

  private async schemaOf(mcpServerId: string): Promise<CompiledSchema> {
    const cached = this.cache.get(mcpServerId);
    if (cached && Date.now() - cached.at < CACHE_MS) return cached;
    // A deleted template's installs keep their credentials replaceable (include_deleted).
    const entry = await this.bus.send(RegistryServerGet, {
      id: mcpServerId,
      include_deleted: true,
    });
    const schema = entry.credential_schema as {
      properties?: Record<string, { contentMediaType?: string }>;
    };
    const properties = schema.properties ?? {};
    const compiled = {
      schema: entry.credential_schema,
      validate: this.ajv.compile({ ...entry.credential_schema, additionalProperties: false }),
      jsonKeys: new Set(
        Object.keys(properties).filter(
          (k) => properties[k].contentMediaType === 'application/json',
        ),
      ),
      known: new Set(Object.keys(properties)),
      at: Date.now(),
    };
    this.cache.set(mcpServerId, compiled);
    return compiled;
  }
}

function isJsonObject(text: string): boolean {
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}

function describe(error: ErrorObject, field: string): string {
  const key = error.instancePath.replace(/^\//, '').split('/')[0];
  switch (error.keyword) {
    case 'required':
      return `${field}.${(error.params as { missingProperty: string }).missingProperty} is required`;
    case 'additionalProperties':
      return `${field}.${(error.params as { additionalProperty: string }).additionalProperty} is not a credential of this server type`;
    case 'type':
      return `${field}.${key} must be a string`;
    case 'maxLength':
      return `${field}.${key} must be at most ${(error.params as { limit: number }).limit} characters`;
    case 'minLength':
      return `${field}.${key} must not be empty`;
    default:
      return `${field}${key ? `.${key}` : ''} ${error.message ?? 'is invalid'}`;
  }
}
