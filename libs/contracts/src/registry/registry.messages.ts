import { defineCommand, defineEvent } from '../message';
import {
  CreateMcpServerCommand,
  DeleteMcpServerCommand,
  GetMcpServerQuery,
  ImportMcpServerCommand,
  ListMcpServersQuery,
  McpServerChangedEvent,
  McpServerCreatedEvent,
  McpServerEntry,
  McpServerList,
  UpdateMcpServerCommand,
} from './registry.dto';

export const RegistryServerList = defineCommand({
  name: 'registry.server.list',
  payload: ListMcpServersQuery,
  reply: McpServerList,
  summary:
    "Lists the server types and templates not deleted, ordered by id; with `account_id`, only the public ones and that account's templates.",
});

export const RegistryServerGet = defineCommand({
  name: 'registry.server.get',
  payload: GetMcpServerQuery,
  reply: McpServerEntry,
  summary:
    "Returns one server type or template; fails with `not_found` for an unknown or deleted id (unless `include_deleted`) and, with `account_id`, for another account's template.",
});

export const RegistryServerCreate = defineCommand({
  name: 'registry.server.create',
  payload: CreateMcpServerCommand,
  reply: McpServerEntry,
  summary:
    'Adds a server type. Fails with `already_exists` for a taken id and `validation_failed` when the launch spec or remote URL and headers, schemas or package are wrong.',
});

export const RegistryServerUpdate = defineCommand({
  name: 'registry.server.update',
  payload: UpdateMcpServerCommand,
  reply: McpServerEntry,
  summary:
    "Replaces what a type or template says (not a shipped one: `forbidden`); with `account_id`, only that account's template (`not_found` otherwise). Validated as at creation.",
});

export const RegistryServerDelete = defineCommand({
  name: 'registry.server.delete',
  payload: DeleteMcpServerCommand,
  reply: McpServerEntry,
  summary:
    "Deletes a type or template (kept for the installs that use it, which keep working; its id stays taken). Not a shipped one (`forbidden`); with `account_id`, only that account's template.",
});

export const RegistryServerImport = defineCommand({
  name: 'registry.server.import',
  payload: ImportMcpServerCommand,
  reply: McpServerEntry,
  summary:
    'Creates the type or template a `server.json` document of the official MCP Registry describes (an installed npm package, else its first streamable-http or sse remote); `validation_failed` names what cannot be imported.',
});

export const RegistryServerChanged = defineEvent({
  name: 'registry.server.changed',
  payload: McpServerChangedEvent,
  summary: 'A server type or template was updated or deleted.',
});

export const RegistryServerCreated = defineEvent({
  name: 'registry.server.created',
  payload: McpServerCreatedEvent,
  summary: 'A server type was added to the catalog.',
});
