import {
  AgentRunGet,
  AgentRunList,
  AgentRunStart,
  type RunAccepted,
  type RunList,
  type RunView,
} from '@athenic/contracts';
import { BusClient } from '@athenic/messaging';
import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { accountFor, ownerFilter } from '../auth/account-scope';
import { requireUuid } from '../http/ids';
import { RateLimits } from '../limits/rate-limits';
import { actorOf } from '../auth/principal';
import { RunListBody, StartRunBody } from './agents.dto';
import { RunStreams } from '../streams/run-streams';

@ApiTags('agent-runs')
@ApiBearerAuth()
@Controller('functions/v1/agent-runs')
export class AgentRunsController {
  constructor(
    private readonly bus: BusClient,
    private readonly limits: RateLimits,
    private readonly streams: RunStreams,
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
      tools: body.tools,
      actor: actorOf(req.principal),
    });
  }

  @Get()
  @ApiOperation({
    summary:
      "The account's newest agent runs, newest first (limit 1-100, default 20): what was asked, how it ended, how many tool calls.",
  })
  list(@Query() query: RunListBody, @Req() req: Request): Promise<RunList> {
    return this.bus.send(AgentRunList, {
      account_id: accountFor(req.principal, query.account_id),
      limit: query.limit === undefined ? undefined : Number(query.limit),
    });
  }

  @Get(':id/stream')
  @ApiOperation({
    summary:
      "A run as it happens, as server-sent events: `run` (its id, status and model), then `tool_call.started` and `tool_call.finished` for each call (the call as in the run's record, secrets masked), then `run.finished` (status, output, error), after which the stream ends. A run already finished is sent whole at once. Event ids are `<call id>.s`, `<call id>.f` and `end`: a client that reconnects with `Last-Event-ID` gets only what follows. A `heartbeat` event every STREAM_HEARTBEAT_MS (the run's record is read again then, so a lost step still arrives). 429 past STREAMS_PER_ACCOUNT or STREAMS_PER_PROCESS open streams.",
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({ description: 'The event stream (text/event-stream).' })
  async stream(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.streams.open(requireUuid(id, 'agent run'), ownerFilter(req.principal), req, res);
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
