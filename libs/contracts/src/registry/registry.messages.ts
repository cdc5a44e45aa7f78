import { defineCommand, defineEvent } from '../message';
import { Empty } from '../shared/empty.dto';
import {
  CreateMcpServerCommand,
  GetMcpServerQuery,
  McpServerCreatedEvent,
  McpServerEntry,
  McpServerList,
} from './registry.dto';

export const RegistryServerList = defineCommand({
  name: 'registry.server.list',
  payload: Empty,
  reply: McpServerList,
  summary: 'Lists every server type of the catalog, ordered by id.',
});

export const RegistryServerGet = defineCommand({
  name: 'registry.server.get',
  payload: GetMcpServerQuery,
  reply: McpServerEntry,
  summary: 'Returns one server type; fails with `not_found` for an unknown id.',
});

export const RegistryServerCreate = defineCommand({
  name: 'registry.server.create',
  payload: CreateMcpServerCommand,
  reply: McpServerEntry,
  summary:
    'Adds a server type. Fails with `already_exists` for a taken id and `validation_failed` when the launch spec, schemas or package are wrong.',
});

export const RegistryServerCreated = defineEvent({
  name: 'registry.server.created',
  payload: McpServerCreatedEvent,
  summary: 'A server type was added to the catalog.',
});
