import { DomainError } from '@athenic/contracts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Resource ids are UUIDs; a malformed one is simply not found. */
export function requireUuid(id: string, what: string): string {
  if (!UUID.test(id)) throw new DomainError('not_found', `No ${what} ${id} exists.`);
  return id.toLowerCase();
}
