import { type OutputUnit, type SchemaDraft, Validator } from '@cfworker/json-schema';
import type { RJSFSchema, RJSFValidationError } from '@rjsf/utils';

/** Output units that only say "something inside failed": their inner errors are reported. */
const CONTAINERS = new Set([
  'properties',
  'items',
  'prefixItems',
  'allOf',
  '$ref',
  'additionalProperties',
]);

function draftOf(schema: RJSFSchema): SchemaDraft {
  const declared = typeof schema.$schema === 'string' ? schema.$schema : '';
  if (declared.includes('2020-12')) return '2020-12';
  if (declared.includes('2019-09')) return '2019-09';
  if (declared.includes('draft-04')) return '4';
  return '7';
}

/**
 * The form's errors for a value, as rjsf wants them (`.field.sub` paths, a message each). A
 * missing required property is reported on that property, so it shows beside its field.
 */
export function schemaErrors(schema: RJSFSchema, value: unknown): RJSFValidationError[] {
  const result = new Validator(schema as object, draftOf(schema), false).validate(value);
  if (result.valid) return [];
  return result.errors
    .filter((unit: OutputUnit) => !CONTAINERS.has(unit.keyword))
    .map((unit: OutputUnit) => {
      let property = unit.instanceLocation
        .replace(/^#/, '')
        .split('/')
        .filter(Boolean)
        .map(decode)
        .join('.');
      let message = unit.error;
      const missing =
        unit.keyword === 'required' ? /required property "([^"]+)"/.exec(unit.error) : null;
      if (missing) {
        property = property ? `${property}.${missing[1]}` : missing[1];
        message = 'is required';
      }
      const path = property ? `.${property}` : '';
      return {
        name: unit.keyword,
        property: path,
        message,
        stack: `${path} ${message}`.trim(),
        schemaPath: unit.keywordLocation,
      };
    });
}

function decode(segment: string): string {
  return decodeURIComponent(segment).replace(/~1/g, '/').replace(/~0/g, '~');
}
