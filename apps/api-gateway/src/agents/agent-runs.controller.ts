import { AgentRunGet, AgentRunStart, type RunAccepted, type RunView } from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Body, Controller, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { accountFor, ownerFilter } from '../auth/account-scope';
import { requireUuid } from '../http/ids';
import { RateLimits } from '../limits/rate-limits';
import { actorOf } from '../auth/principal';
import { StartRunBody } from './agents.dto';

@ApiTags('agent-runs')
@ApiBearerAuth()
@Controller('functions/v1/agent-runs')
export class AgentRunsController {
  constructor(
    private readonly bus: BusClient,
    private readonly limits: RateLimits,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiOperation({
    summary:
      "Starts an agent run over the account's MCP connections; 503 when no model is configured.",
  })
  async start(@Body() body: StartRunBody, @Req() req: Request): Promise<RunAccepted> {
    const accountId = accountFor(req.principal, body.account_id);
    await this.limits.enforce('agentRuns', accountId, 'agent runs');
    return this.bus.send(AgentRunStart, {
      account_id: accountId,
      messages: body.messages,
      connection_ids: body.connection_ids,
      model: body.model,
      actor: actorOf(req.principal),
    });
  }

  @Get(':id')
  @ApiOperation({ summary: 'A run: status, output and every tool call (secret values masked).' })
  get(@Param('id') id: string, @Req() req: Request): Promise<RunView> {
    return this.bus.send(AgentRunGet, {
      id: requireUuid(id, 'agent run'),
      account_id: ownerFilter(req.principal),
    });
  }
}
