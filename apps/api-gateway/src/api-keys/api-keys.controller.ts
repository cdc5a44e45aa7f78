import {
  CredentialApiKeyCreate,
  CredentialApiKeyList,
  CredentialApiKeyRevoke,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { randomBytes } from 'node:crypto';
import { accountFor } from '../auth/account-scope';
import { sha256Hex } from '../auth/authenticator';
import { AdminOnly } from '../http/admin-only.guard';
import { requireUuid } from '../http/ids';
import { actorOf } from '../auth/principal';
import { AccountQuery, ApiKeyListView, CreateApiKeyBody, CreatedApiKeyView } from './api-keys.dto';

@ApiTags('api-keys')
@ApiBearerAuth()
@AdminOnly()
@Controller('functions/v1/api-keys')
export class ApiKeysController {
  constructor(private readonly bus: BusClient) {}

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Creates an account API key (service role only). The key is in this response only.',
  })
  @ApiResponse({ status: 201, type: CreatedApiKeyView })
  async create(@Body() body: CreateApiKeyBody, @Req() req: Request): Promise<CreatedApiKeyView> {
    // Made here and shown once; only its hash leaves the gateway.
    const key = `ak_${randomBytes(32).toString('base64url')}`;
    const view = await this.bus.send(CredentialApiKeyCreate, {
      account_id: body.account_id,
      name: body.name,
      key_hash: sha256Hex(key),
      key_prefix: key.slice(0, 10),
      actor: actorOf(req.principal),
    });
    return {
      id: view.id,
      account_id: view.account_id,
      name: view.name,
      key,
      created_at: view.created_at,
    };
  }

  @Get()
  @ApiOperation({ summary: "An account's API keys (service role only); never the keys." })
  @ApiResponse({ status: 200, type: ApiKeyListView })
  async list(@Query() query: AccountQuery, @Req() req: Request): Promise<ApiKeyListView> {
    return this.bus.send(CredentialApiKeyList, {
      account_id: accountFor(req.principal, query.account_id),
    });
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Revokes an API key (service role only); it stops working within seconds.',
  })
  @ApiResponse({ status: 204 })
  async revoke(@Param('id') id: string, @Req() req: Request): Promise<void> {
    await this.bus.send(CredentialApiKeyRevoke, {
      id: requireUuid(id, 'API key'),
      actor: actorOf(req.principal),
    });
  }
}
