import {
  CredentialKeysRetire,
  CredentialKeysRotate,
  CredentialKeysStatus,
  DomainError,
  type KeyStatusReply,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AdminOnly } from '../http/admin-only.guard';
import { actorOf } from '../auth/principal';

@ApiTags('admin')
@ApiBearerAuth()
@AdminOnly()
@Controller('functions/v1/admin/credential-keys')
export class CredentialKeysController {
  constructor(private readonly bus: BusClient) {}

  @Get()
  @ApiOperation({
    summary:
      'Master key versions, credential sets per version and rotation progress (service role only).',
  })
  @ApiResponse({ status: 200 })
  status(): Promise<KeyStatusReply> {
    return this.bus.send(CredentialKeysStatus, {});
  }

  @Post('rotate')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Re-wraps every data key under the current master key, online (service role only). Idempotent.',
  })
  @ApiResponse({ status: 202 })
  rotate(@Req() req: Request): Promise<KeyStatusReply> {
    return this.bus.send(CredentialKeysRotate, { actor: actorOf(req.principal) });
  }

  @Post(':version/retire')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Retires a master key version; refused while it still wraps data (service role only).',
  })
  @ApiResponse({ status: 200 })
  @ApiResponse({ status: 409, description: 'The version is current or still wraps data.' })
  retire(@Param('version') version: string, @Req() req: Request): Promise<KeyStatusReply> {
    const match = /^v?([1-9][0-9]{0,5})$/.exec(version);
    if (!match) throw new DomainError('not_found', `No master key version ${version} exists.`);
    return this.bus.send(CredentialKeysRetire, {
      version: Number(match[1]),
      actor: actorOf(req.principal),
    });
  }
}
