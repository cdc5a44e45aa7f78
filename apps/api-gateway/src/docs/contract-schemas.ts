import type { OpenAPIObject } from '@nestjs/swagger';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';

/**
 * Request bodies are the contract classes themselves: their JSON Schemas are derived from the
 * same class-validator rules that validate them, so the docs cannot drift from the checks.
 */
export function contractSchemaRef(cls: Function): { $ref: string } {
  return { $ref: `#/components/schemas/${cls.name}` };
}

export function addContractSchemas(document: OpenAPIObject): OpenAPIObject {
  const schemas = validationMetadatasToSchemas({ refPointerPrefix: '#/components/schemas/' });
  document.components = document.components ?? {};
  document.components.schemas = {
    ...schemas,
    ...(document.components.schemas ?? {}),
  } as typeof document.components.schemas;
  return document;
}
