/** A JSON Schema as the registry gives it for credentials, config and tool input. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  writeOnly?: boolean;
  format?: string;
  contentMediaType?: string;
  [key: string]: unknown;
}

/** An rjsf uiSchema: which widget each field uses, and its help text. */
export type UiSchema = Record<string, unknown>;

/**
 * Whether a field holds a secret: the registry marks credentials `writeOnly`; a `password` format
 * counts too.
 */
export function isSecret(field: JsonSchema): boolean {
  return field.writeOnly === true || field.format === 'password';
}

/**
 * The form of a schema: secret fields masked (a password input with a show toggle), JSON
 * fields as a text area, the description as help text. Nested objects get the same treatment.
 */
export function uiSchemaFor(schema: JsonSchema): UiSchema {
  const ui: UiSchema = {};
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    if (!field || typeof field !== 'object') continue;
    if (isSecret(field))
      ui[name] = { 'ui:widget': 'secret', 'ui:options': { autocomplete: 'off' } };
    else if (field.contentMediaType === 'application/json') ui[name] = { 'ui:widget': 'textarea' };
    else if (field.type === 'object' && field.properties) ui[name] = uiSchemaFor(field);
  }
  return ui;
}

/**
 * The API's 400 details (`provided_credential_schema.github_token must be ...`, or a message
 * naming a field) placed beside the fields they name; what names no field stays general.
 */
export function errorsByField(
  details: string[],
  fields: string[],
): { byField: Record<string, string[]>; general: string[] } {
  const byField: Record<string, string[]> = {};
  const general: string[] = [];
  for (const detail of details) {
    const field = fields.find((f) =>
      new RegExp(`(^|[.\\s"'\`/])${escape(f)}($|[.\\s"'\`:,])`).test(detail),
    );
    if (field) (byField[field] ??= []).push(detail);
    else general.push(detail);
  }
  return { byField, general };
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Drops empty strings of optional fields, so "left blank" is "not given". */
export function withoutBlanks(
  values: Record<string, unknown>,
  schema: JsonSchema,
): Record<string, unknown> {
  const required = new Set(schema.required ?? []);
  return Object.fromEntries(
    Object.entries(values ?? {}).filter(
      ([k, v]) => required.has(k) || (v !== '' && v !== undefined),
    ),
  );
}
