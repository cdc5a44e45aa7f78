import { CreateMcpServerCommand, RegistryServerCreate } from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { GatewayReads } from '../cache/gateway-reads';
import { AdminOnly } from '../http/admin-only.guard';
import { contractSchemaRef } from '../docs/contract-schemas';
import { McpServerListView, McpServerView, toView } from './mcp-server.view';

@ApiTags('mcp-servers')
@ApiBearerAuth()
@Controller('functions/v1/mcp-servers')
export class McpServersController {
  constructor(
    private readonly bus: BusClient,
    private readonly reads: GatewayReads,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The catalog of MCP server types an account can install.' })
  @ApiResponse({ status: 200, type: McpServerListView })
  async list(): Promise<McpServerListView> {
    const reply = await this.reads.listServers();
    return { data: reply.data.map(toView) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'One server type.' })
  @ApiResponse({ status: 200, type: McpServerView })
  @ApiResponse({ status: 404, description: 'No such server type.' })
  async get(@Param('id') id: string): Promise<McpServerView> {
    return toView(await this.reads.getServer(id));
  }

  @Post()
  @HttpCode(201)
  @AdminOnly()
  @ApiOperation({
    summary:
      'Adds a server type (service role key only). Its npm package must already be installed.',
  })
  @ApiBody({ schema: contractSchemaRef(CreateMcpServerCommand) })
  @ApiResponse({ status: 201, type: McpServerView })
  @ApiResponse({ status: 409, description: 'The id is taken.' })
  async create(@Body() body: CreateMcpServerCommand): Promise<McpServerView> {
    const created = await this.bus.send(RegistryServerCreate, body);
    this.reads.catalogChanged();
    return toView(created);
  }
}
