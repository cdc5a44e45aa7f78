import { plainToInstance } from 'class-transformer';
import { type ValidationError, validateSync } from 'class-validator';
import type { Class } from './message';

export type Validated<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * Checks a plain value against a contract class: unknown fields, wrong types and missing fields
 * are all reported, each as one line naming its field (nested fields with dotted paths).
 */
export async function validatePayload<T extends object>(
  cls: Class<T>,
  data: unknown,
): Promise<Validated<T>> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    return { ok: false, errors: ['payload must be a JSON object'] };
  }
  const nul = findNul(data);
  if (nul !== undefined) return { ok: false, errors: [`${nul} contains a NUL character`] };
  const prototypeKey = findPrototypeKey(data);
  if (prototypeKey !== undefined)
    return { ok: false, errors: [`${prototypeKey} is a field name no payload may use`] };
  let value: T;
  try {
    value = plainToInstance(cls as new () => T, data);
  } catch (error) {
    return { ok: false, errors: [`payload cannot be read: ${(error as Error).message}`] };
  }
  // Contracts have no async rules: the synchronous validator is the same check, with less overhead.
  const errors = validateSync(value, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: false,
  });
  return errors.length === 0
    ? { ok: true, value }
    : { ok: false, errors: formatValidationErrors(errors) };
}

export function formatValidationErrors(errors: ValidationError[], parent = ''): string[] {
  const lines: string[] = [];
  for (const error of errors) {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const constraints = error.constraints ?? {};
    if (constraints.whitelistValidation) {
      lines.push(`${field} is not a known field`);
      continue;
    }
    if (error.value === undefined && Object.keys(constraints).length > 0) {
      // Optional fields are skipped when absent, so any failure on an absent value means "required".
      lines.push(`${field} is required`);
      continue;
    }
    for (const message of Object.values(constraints)) {
      lines.push(
        message.startsWith(error.property)
          ? `${field}${message.slice(error.property.length)}`
          : `${field}: ${message}`,
      );
    }
    if (error.children?.length) lines.push(...formatValidationErrors(error.children, field));
  }
  return lines;
}

/**
 * The first place in a payload holding a NUL character (a key or a string), if any. No contract
 * allows one, and PostgreSQL refuses them in text and jsonb: caught here, they are a 400 naming
 * the field, not a failed query. Walked without recursion.
 */
export function findNul(data: unknown): string | undefined {
  const stack: [unknown, string][] = [[data, '']];
  while (stack.length > 0) {
    const [item, path] = stack.pop()!;
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return path || 'the payload';
      continue;
    }
    if (item === null || typeof item !== 'object') continue;
    for (const [key, child] of Object.entries(item)) {
      const at = path ? `${path}.${key}` : key;
      if (key.includes('\u0000')) return path || 'a field name';
      stack.push([child, at]);
    }
  }
  return undefined;
}

/** Keys that name object prototypes: never a field of a contract, and what class-transformer trips on. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** The path of the first `__proto__`, `constructor` or `prototype` key at any depth, if any. */
export function findPrototypeKey(data: unknown): string | undefined {
  const stack: [unknown, string][] = [[data, '']];
  while (stack.length > 0) {
    const [item, path] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    for (const key of Object.keys(item)) {
      const at = path ? `${path}.${key}` : key;
      if (PROTOTYPE_KEYS.has(key)) return at;
      stack.push([(item as Record<string, unknown>)[key], at]);
    }
  }
  return undefined;
}
