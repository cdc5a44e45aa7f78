import {
  type AccountHealthReply,
  DomainError,
  type ConnectionEventList,
  type ConnectionLogList,
  SandboxAccountHealthGet,
  SandboxConnectionDelete,
  SandboxConnectionEventList,
  SandboxConnectionGet,
  SandboxConnectionInstall,
  SandboxConnectionLogList,
  SandboxConnectionReplaceCredentials,
  SandboxConnectionStart,
  SandboxConnectionStop,
} from '@athenic/contracts';
import { type McpServerConfig, McpServersConfigBuilder } from '@athenic/agent-config';
import { BusClient } from '@athenic/messaging';
import { installConnectionId, signFields } from '@athenic/platform-crypto';
import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { randomUUID } from 'node:crypto';
import { accountFor, ownerFilter } from '../auth/account-scope';
import { GatewayReads } from '../cache/gateway-reads';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';
import { CredentialSealer } from '../credentials/credential-sealer';
import { requireUuid } from '../http/ids';
import { RateLimits } from '../limits/rate-limits';
import { actorOf } from '../auth/principal';
import { AgentConfigQuery } from '../agents/agents.dto';
import { beginEventStream, ConnectionStreams, sseFrame } from '../streams/connection-streams';
import { withMcpUrl } from './connection-response';
import {
  AccountQuery,
  ConnectionResponse,
  CredentialsBody,
  InstallBody,
  LogsQuery,
} from './connections.dto';

@ApiTags('mcp-connections')
@ApiBearerAuth()
@Controller('functions/v1/mcp-connections')
export class ConnectionsController {
  constructor(
    private readonly bus: BusClient,
    private readonly sealer: CredentialSealer,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly limits: RateLimits,
    private readonly reads: GatewayReads,
    private readonly streams: ConnectionStreams,
  ) {
    this.agentConfigs = new McpServersConfigBuilder(
      bus,
      config.internalSecret,
      config.publicBaseUrl,
    );
  }

  private readonly agentConfigs: McpServersConfigBuilder;

  @Post('install')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Installs an MCP server for an account; answers at once with the connection in mcpPending.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description:
      "Retries with the same key and body return the first response (kept 24 hours; the same key with another body is 409 idempotency_conflict). The connection's id is derived from the account and this key: installConnectionId(account, key) of @athenic/platform-crypto. Required when provided_credential_schema holds values the client sealed itself: each must be bound (ath_cid) to that id.",
  })
  @ApiResponse({ status: 202, type: ConnectionResponse })
  async install(
    @Body() body: InstallBody,
    @Req() req: Request,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<ConnectionResponse> {
    const accountId = accountFor(req.principal, body.account_id);
    await this.limits.enforce('installs', accountId, 'installs');
    // Without a key of the caller's, one per request still makes a redelivered command harmless.
    const key = idempotencyKey?.trim() || `request:${randomUUID()}`;
    // The sandbox service derives the connection's id from the account and the key the same way,
    // so the values are sealed for the connection this install makes and no other.
    const sealed = await this.sealer.sealAll(body.provided_credential_schema, {
      account: accountId,
      connection: installConnectionId(accountId, key),
    });
    const reply = await this.bus.send(SandboxConnectionInstall, {
      account_id: accountId,
      mcp_server_id: body.mcp_server_id,
      title: body.title,
      config: body.config ?? {},
      sealed_credentials: sealed,
      idempotency_key: key,
      request_hash: signFields(this.config.internalSecret, 'idempotency', {
        mcp_server_id: body.mcp_server_id,
        account_id: accountId,
        title: body.title,
        config: body.config ?? {},
        credentials: body.provided_credential_schema ?? {},
      }),
      actor: actorOf(req.principal),
    });
    this.reads.connectionChanged(reply.connection.id, reply.connection.account_id);
    return withMcpUrl(reply.connection, this.config.publicBaseUrl);
  }

  @Get()
  @ApiOperation({ summary: "An account's connections, oldest first." })
  async list(
    @Query() query: AccountQuery,
    @Req() req: Request,
  ): Promise<{ data: ConnectionResponse[] }> {
    const reply = await this.reads.listConnections(accountFor(req.principal, query.account_id));
    return { data: reply.data.map((c) => withMcpUrl(c, this.config.publicBaseUrl)) };
  }

  @Get('health')
  @ApiOperation({
    summary:
      'MCP ping of every running connection of the account; unhealthy if one fails or a connection is in mcpError.',
  })
  health(@Query() query: AccountQuery, @Req() req: Request): Promise<AccountHealthReply> {
    return this.bus.send(
      SandboxAccountHealthGet,
      { account_id: accountFor(req.principal, query.account_id) },
      { timeoutMs: 10000 },
    );
  }

  @Get('agent-config')
  @ApiOperation({
    summary:
      "buildMcpServersConfig for AgentKit users outside the platform: the account's running connections as MCP servers, each with a short-lived run token.",
  })
  async agentConfig(
    @Query() query: AgentConfigQuery,
    @Req() req: Request,
  ): Promise<{ mcp_servers: McpServerConfig[]; expires_at: string }> {
    const ids = query.connection_ids
      ?.split(',')
      .map((s: string) => s.trim())
      .filter(Boolean);
    for (const id of ids ?? []) requireUuid(id, 'connection');
    const ttl = query.ttl_s === undefined ? undefined : Number(query.ttl_s);
    const built = await this.agentConfigs.build(accountFor(req.principal, query.account_id), {
      connectionIds: ids,
      ttlSeconds: ttl,
    });
    return { mcp_servers: built.mcpServers, expires_at: built.expiresAt.toISOString() };
  }

  @Get('stream')
  @ApiOperation({
    summary:
      "Server-sent events of the account's connections, live from the bus: `status` (connection_id, at, from, to, reason: the events route's fields), `deleted`, `snapshot` (the current connections, first and when Last-Event-ID is outside the replay window), `heartbeat` (STREAM_HEARTBEAT_MS), and a last `dropped` (client too slow) or `closed` (shutdown). Every status, deleted and snapshot event has an `id:`; reconnect with Last-Event-ID to get what was missed (STREAM_REPLAY_WINDOW_MS, STREAM_REPLAY_EVENTS). Limits per account and per gateway process: 429.",
  })
  @ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description:
      'The id of the last event received: the events since then are sent first (or a snapshot, reason outside_replay_window).',
  })
  @ApiResponse({
    status: 200,
    description: 'An event stream, open until the client leaves (or is dropped, or shutdown).',
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        example:
          'retry: 3000\n\nid: 1796065225760-3f2a9c0d1e2b4a5f\nevent: status\ndata: {"connection_id":"…","at":"…","from":"mcpDeploying","to":"mcpRunning","reason":"…"}\n\n',
      },
    },
  })
  @ApiResponse({ status: 400, description: 'validation_failed (account_id missing or malformed).' })
  @ApiResponse({ status: 403, description: "forbidden: another account's account_id." })
  @ApiResponse({
    status: 429,
    description: 'rate_limited: STREAM_MAX_PER_ACCOUNT or STREAM_MAX_PER_PROCESS streams open.',
  })
  async stream(
    @Query() query: AccountQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const accountId = accountFor(req.principal, query.account_id);
    // Read here rather than with @Headers, which would document it a second time.
    const lastEventId = req.headers['last-event-id'];
    const start = this.streams.admit(
      accountId,
      typeof lastEventId === 'string' && lastEventId.trim() ? lastEventId.trim() : undefined,
    );
    beginEventStream(res);
    const client = this.streams.attach(accountId, res);
    if (start.kind === 'replay') return client.release(start.frames);
    try {
      const list = await this.reads.listConnections(accountId);
      client.release([
        sseFrame(
          'snapshot',
          {
            reason: start.reason,
            connections: list.data.map((c) => withMcpUrl(c, this.config.publicBaseUrl)),
          },
          start.resumeId,
        ),
      ]);
    } catch (error) {
      client.end(
        sseFrame('closed', {
          reason: 'unavailable',
          message: `The current state could not be read (${error instanceof DomainError ? error.code : 'internal_error'}); reconnect.`,
        }),
      );
    }
  }

  @Get(':id')
  @ApiOperation({ summary: 'One connection; never a credential.' })
  @ApiResponse({ status: 200, type: ConnectionResponse })
  async get(@Param('id') id: string, @Req() req: Request): Promise<ConnectionResponse> {
    const view = await this.reads.getConnection(
      requireUuid(id, 'connection'),
      ownerFilter(req.principal),
    );
    return withMcpUrl(view, this.config.publicBaseUrl);
  }

  @Post(':id/stop')
  @HttpCode(202)
  @ApiOperation({ summary: 'Stops the connection; 409 if it is already stopped.' })
  async stop(@Param('id') id: string, @Req() req: Request): Promise<ConnectionResponse> {
    const view = await this.bus.send(SandboxConnectionStop, this.target(id, req), {
      timeoutMs: 15000,
    });
    this.reads.connectionChanged(view.id, view.account_id);
    return withMcpUrl(view, this.config.publicBaseUrl);
  }

  @Post(':id/start')
  @HttpCode(202)
  @ApiOperation({ summary: 'Starts a stopped or failed connection; 409 otherwise.' })
  async start(@Param('id') id: string, @Req() req: Request): Promise<ConnectionResponse> {
    const view = await this.bus.send(SandboxConnectionStart, this.target(id, req));
    this.reads.connectionChanged(view.id, view.account_id);
    return withMcpUrl(view, this.config.publicBaseUrl);
  }

  @Put(':id/credentials')
  @HttpCode(202)
  @ApiOperation({
    summary:
      'Replaces the credentials (validated as at install); a running connection is redeployed.',
  })
  async credentials(
    @Param('id') id: string,
    @Body() body: CredentialsBody,
    @Req() req: Request,
  ): Promise<ConnectionResponse> {
    const target = this.target(id, req);
    // Sealed for this connection's account (the service role's target is looked up) and itself.
    const account =
      target.account_id ??
      (await this.bus.send(SandboxConnectionGet, { id: target.id })).account_id;
    const sealed = await this.sealer.sealAll(body.provided_credential_schema, {
      account,
      connection: target.id,
    });
    const view = await this.bus.send(
      SandboxConnectionReplaceCredentials,
      { ...target, sealed_credentials: sealed },
      { timeoutMs: 15000 },
    );
    this.reads.connectionChanged(view.id, view.account_id);
    return withMcpUrl(view, this.config.publicBaseUrl);
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({
    summary: 'Deletes the connection: sandbox stopped, credentials and working dir destroyed.',
  })
  async delete(@Param('id') id: string, @Req() req: Request): Promise<void> {
    const target = this.target(id, req);
    await this.bus.send(SandboxConnectionDelete, target, { timeoutMs: 15000 });
    this.reads.connectionChanged(target.id, target.account_id);
  }

  @Get(':id/events')
  @ApiOperation({ summary: 'Status history, oldest first.' })
  events(@Param('id') id: string, @Req() req: Request): Promise<ConnectionEventList> {
    return this.bus.send(SandboxConnectionEventList, {
      id: requireUuid(id, 'connection'),
      account_id: ownerFilter(req.principal),
    });
  }

  @Get(':id/logs')
  @ApiOperation({
    summary: "The server's stderr, non-protocol stdout and lifecycle lines, secrets masked.",
  })
  logs(
    @Param('id') id: string,
    @Query() query: LogsQuery,
    @Req() req: Request,
  ): Promise<ConnectionLogList> {
    return this.bus.send(SandboxConnectionLogList, {
      id: requireUuid(id, 'connection'),
      account_id: ownerFilter(req.principal),
      tail: query.tail ?? 100,
    });
  }

  private target(id: string, req: Request) {
    return {
      id: requireUuid(id, 'connection'),
      account_id: ownerFilter(req.principal),
      actor: actorOf(req.principal),
    };
  }
}
