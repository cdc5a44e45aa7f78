import { DomainError } from '@athenic/contracts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How much of a caller's id an error message repeats. */
const ECHO_LIMIT = 64;

/** Resource ids are UUIDs; a malformed one is simply not found. */
export function requireUuid(id: string, what: string): string {
  if (!UUID.test(id)) throw new DomainError('not_found', `No ${what} ${echo(id)} exists.`);
  return id.toLowerCase();
}

/**
 * A path segment as the caller meant it. Malformed percent-encoding (`%E0%A4%A`) or bytes that
 * are not UTF-8 (`%FF`) are not an error of ours: the raw text is kept, and the id check that
 * follows finds no such resource.
 */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** A caller's value repeated in a message or a log line: printable ASCII, cut at `limit`. */
export function echo(value: string, limit = ECHO_LIMIT): string {
  const printable = value.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > limit ? `${printable.slice(0, limit)}...` : printable;
}
