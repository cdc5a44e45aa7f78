import { Controller, Get, Res } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { HealthService, type PlatformHealth } from './health.service';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get('health')
  @ApiOperation({
    summary: 'Health of the platform: RabbitMQ, Postgres and each service. No key needed.',
  })
  @ApiResponse({ status: 200, description: 'Everything answers.' })
  @ApiResponse({ status: 503, description: 'Something is down; `checks` names it.' })
  async get(@Res({ passthrough: true }) res: Response): Promise<PlatformHealth> {
    const result = await this.health.check();
    res.status(result.status === 'ok' ? 200 : 503);
    return result;
  }
}
