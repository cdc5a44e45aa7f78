import {
  type CreateMcpServerCommand,
  type DeleteMcpServerCommand,
  type GetMcpServerQuery,
  type ImportMcpServerCommand,
  type ListMcpServersQuery,
  type McpServerEntry,
  type McpServerList,
  RegistryServerCreate,
  RegistryServerDelete,
  RegistryServerGet,
  RegistryServerImport,
  RegistryServerList,
  RegistryServerUpdate,
  type UpdateMcpServerCommand,
} from '@athenic/contracts';
import { Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { McpServersService } from './mcp-servers.service';

@Controller()
export class McpServersHandler {
  constructor(private readonly servers: McpServersService) {}

  @Handle(RegistryServerList)
  list(query: ListMcpServersQuery): Promise<McpServerList> {
    return this.servers.list(query);
  }

  @Handle(RegistryServerGet)
  get(query: GetMcpServerQuery): Promise<McpServerEntry> {
    return this.servers.get(query);
  }

  @Handle(RegistryServerCreate)
  create(command: CreateMcpServerCommand): Promise<McpServerEntry> {
    return this.servers.create(command);
  }

  @Handle(RegistryServerUpdate)
  update(command: UpdateMcpServerCommand): Promise<McpServerEntry> {
    return this.servers.update(command);
  }

  @Handle(RegistryServerDelete)
  delete(command: DeleteMcpServerCommand): Promise<McpServerEntry> {
    return this.servers.delete(command);
  }

  @Handle(RegistryServerImport)
  import(command: ImportMcpServerCommand): Promise<McpServerEntry> {
    return this.servers.import(command);
  }
}
