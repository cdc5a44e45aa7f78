import {
  CreateMcpServerCommand,
  DomainError,
  IsAccountId,
  McpServerFields,
  RegistryServerCreate,
  RegistryServerDelete,
  RegistryServerImport,
  RegistryServerUpdate,
  IsServerId,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Req,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOperation,
  ApiProperty,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import type { Request } from 'express';
import { accountFor, ownerFilter } from '../auth/account-scope';
import type { Principal } from '../auth/principal';
import { GatewayReads } from '../cache/gateway-reads';
import { contractSchemaRef } from '../docs/contract-schemas';
import { McpServerListView, McpServerView, toView } from './mcp-server.view';

export class ImportQuery {
  @ApiProperty({
    required: false,
    description: "The new entry's id; default: the last part of the document's name.",
  })
  @IsOptional()
  @IsServerId()
  id?: string;

  @ApiProperty({
    required: false,
    description:
      'Service role key only: make a template of this account (default: a public type). An account key always makes a template of its own account.',
  })
  @IsOptional()
  @IsAccountId()
  account_id?: string;
}

/** Only the service role adds public types; an account key adds templates of its own. */
function ownership(
  principal: Principal | undefined,
  visibility: string | undefined,
  accountId: string | undefined,
): { visibility: 'public' | 'account'; account_id?: string } {
  if (principal?.kind === 'service') {
    const v = visibility ?? (accountId ? 'account' : 'public');
    return v === 'account'
      ? { visibility: 'account', account_id: accountFor(principal, accountId) }
      : { visibility: 'public', ...(accountId ? { account_id: accountId } : {}) };
  }
  if (visibility === 'public')
    throw new DomainError(
      'forbidden',
      'Only the service role key adds public server types; an account key adds templates of its own account (visibility "account").',
    );
  return { visibility: 'account', account_id: accountFor(principal, accountId) };
}

@ApiTags('mcp-servers')
@ApiBearerAuth()
@Controller('functions/v1/mcp-servers')
export class McpServersController {
  constructor(
    private readonly bus: BusClient,
    private readonly reads: GatewayReads,
  ) {}

  @Get()
  @ApiOperation({
    summary:
      "The catalog an account can install: the public server types and the account's own templates (the service role key sees every one).",
  })
  @ApiResponse({ status: 200, type: McpServerListView })
  async list(@Req() req: Request): Promise<McpServerListView> {
    const reply = await this.reads.listServers(ownerFilter(req.principal));
    return { data: reply.data.map(toView) };
  }

  @Get(':id')
  @ApiOperation({ summary: "One server type or template (404 for another account's template)." })
  @ApiResponse({ status: 200, type: McpServerView })
  @ApiResponse({ status: 404, description: 'No such server type.' })
  async get(@Param('id') id: string, @Req() req: Request): Promise<McpServerView> {
    return toView(await this.reads.getServer(id, ownerFilter(req.principal)));
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Adds a server type: a template of the caller\'s account (visibility "account"; the only kind an account key adds) or, with the service role key, a public type. A stdio one runs an executable of an npm package the operator installed (npm run mcp:add); a remote one ("streamable-http", "sse") names its URL and header templates.',
  })
  @ApiBody({ schema: contractSchemaRef(CreateMcpServerCommand) })
  @ApiResponse({ status: 201, type: McpServerView })
  @ApiResponse({ status: 400, description: 'A field is invalid or the package is not installed.' })
  @ApiResponse({ status: 403, description: 'An account key asked for a public type.' })
  @ApiResponse({
    status: 409,
    description: 'The id is taken, or the account has as many templates as it may.',
  })
  async create(@Body() body: CreateMcpServerCommand, @Req() req: Request): Promise<McpServerView> {
    const owner = ownership(req.principal, body.visibility, body.account_id);
    const created = await this.bus.send(RegistryServerCreate, { ...body, ...owner });
    this.reads.catalogChanged();
    return toView(created);
  }

  @Post('import')
  @HttpCode(201)
  @ApiOperation({
    summary:
      'Adds the server type a server.json document of the official MCP Registry describes: its npm package (installed with npm run mcp:add), else its first streamable-http or sse remote as a remote type. Ownership as for POST.',
  })
  @ApiBody({
    schema: {
      type: 'object',
      additionalProperties: true,
      description:
        'A server.json document (https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json).',
    },
  })
  @ApiResponse({ status: 201, type: McpServerView })
  @ApiResponse({
    status: 400,
    description: 'The document cannot be imported; the message says why.',
  })
  async import(
    @Body() document: Record<string, unknown>,
    @Query() query: ImportQuery,
    @Req() req: Request,
  ): Promise<McpServerView> {
    checkDocument(document);
    const owner = ownership(req.principal, undefined, query.account_id);
    const created = await this.bus.send(RegistryServerImport, {
      document,
      ...(query.id ? { id: query.id } : {}),
      ...owner,
    });
    this.reads.catalogChanged();
    return toView(created);
  }

  @Put(':id')
  @ApiOperation({
    summary:
      'Replaces what a type or template says (an account key: only its own templates; shipped types never). Its installs use it at their next deploy.',
  })
  @ApiBody({ schema: contractSchemaRef(McpServerFields) })
  @ApiResponse({ status: 200, type: McpServerView })
  @ApiResponse({ status: 404, description: "No such type, or another account's template." })
  async update(
    @Param('id') id: string,
    @Body() body: McpServerFields,
    @Req() req: Request,
  ): Promise<McpServerView> {
    const updated = await this.bus.send(RegistryServerUpdate, {
      ...body,
      id: serverId(id),
      ...accountOption(req.principal),
    });
    this.reads.catalogChanged();
    return toView(updated);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary:
      'Deletes a type or template (an account key: only its own). Connections installed from it keep working until they are deleted; its id stays taken.',
  })
  @ApiResponse({ status: 204 })
  @ApiResponse({ status: 404, description: "No such type, or another account's template." })
  async delete(@Param('id') id: string, @Req() req: Request): Promise<void> {
    await this.bus.send(RegistryServerDelete, {
      id: serverId(id),
      ...accountOption(req.principal),
    });
    this.reads.catalogChanged();
  }
}

/** Keys no server.json has, which would reach object prototypes in the services that read it. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAX_DOCUMENT_DEPTH = 16;

/**
 * A server.json body is free-form JSON (the registry reads it, server-json.ts): it must be an
 * object, at most 16 levels deep, with no key that names a prototype.
 */
function checkDocument(document: unknown): void {
  if (typeof document !== 'object' || document === null || Array.isArray(document))
    throw new DomainError(
      'validation_failed',
      'The body must be a server.json document (an object).',
    );
  const walk = (value: unknown, depth: number, where: string): void => {
    if (typeof value !== 'object' || value === null) return;
    if (depth > MAX_DOCUMENT_DEPTH)
      throw new DomainError(
        'validation_failed',
        `The server.json document nests deeper than ${MAX_DOCUMENT_DEPTH} levels (at ${where}).`,
      );
    for (const key of Object.keys(value)) {
      if (FORBIDDEN_KEYS.has(key))
        throw new DomainError(
          'validation_failed',
          `The server.json document may not have a key named "${key}" (at ${where}).`,
        );
      walk((value as Record<string, unknown>)[key], depth + 1, `${where}.${key}`);
    }
  };
  walk(document, 0, '$');
}

function accountOption(principal: Principal | undefined): { account_id?: string } {
  const account = ownerFilter(principal);
  return account === undefined ? {} : { account_id: account };
}

/** An id that cannot name a type is not found (as an unknown one). */
function serverId(id: string): string {
  if (typeof id !== 'string' || id.length > 128 || id.length === 0)
    throw new DomainError('not_found', `No MCP server type "${String(id).slice(0, 128)}" exists.`);
  return id;
}
