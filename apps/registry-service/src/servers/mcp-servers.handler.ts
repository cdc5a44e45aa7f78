import {
  type CreateMcpServerCommand,
  type GetMcpServerQuery,
  type McpServerEntry,
  type McpServerList,
  RegistryServerCreate,
  RegistryServerGet,
  RegistryServerList,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { McpServersService } from './mcp-servers.service';

@Controller()
export class McpServersHandler {
  constructor(private readonly servers: McpServersService) {}

  @Handle(RegistryServerList)
  list(): Promise<McpServerList> {
    return this.servers.list();
  }

  @Handle(RegistryServerGet)
  get(query: GetMcpServerQuery): Promise<McpServerEntry> {
    return this.servers.get(query.id);
  }

  @Handle(RegistryServerCreate)
  create(command: CreateMcpServerCommand): Promise<McpServerEntry> {
    return this.servers.create(command);
  }
}
