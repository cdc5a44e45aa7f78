import {
  type AccountHealthQuery,
  type AccountHealthReply,
  type ConnectionCommand,
  type ConnectionEventList,
  type ConnectionList,
  type ConnectionLogList,
  type ConnectionLogsQuery,
  type ConnectionQuery,
  type ConnectionRouteQuery,
  type ConnectionRouteReply,
  type ConnectionView,
  type DeletedConnectionReply,
  type InstallConnectionCommand,
  type InstallConnectionReply,
  type ListConnectionsQuery,
  type ReplaceCredentialsCommand,
  SandboxAccountHealthGet,
  SandboxConnectionDelete,
  SandboxConnectionEventList,
  SandboxConnectionGet,
  SandboxConnectionInstall,
  SandboxConnectionList,
  SandboxConnectionLogList,
  SandboxConnectionReplaceCredentials,
  SandboxConnectionRouteGet,
  SandboxConnectionStart,
  SandboxConnectionStop,
  SandboxConnectionTouch,
  type TouchConnectionsCommand,
  type TouchedReply,
} from '@athenic/contracts';
import { type BusContext, Handle } from '@athenic/messaging';
import { Controller } from '@nestjs/common';
import { Ctx, Payload } from '@nestjs/microservices';
import { ConnectionsService } from './connections.service';

@Controller()
export class ConnectionsHandler {
  constructor(private readonly connections: ConnectionsService) {}

  /**
   * A command without an idempotency key is keyed by its message id (`delivery:<message id>`), so
   * a redelivered one (the broker's at-least-once delivery) still creates one connection. The
   * connection's id follows from that key like from any other (`installConnectionId`): a sender
   * that seals credential values itself binds them to it, or simply sends an idempotency_key.
   */
  @Handle(SandboxConnectionInstall)
  install(
    @Payload() command: InstallConnectionCommand,
    @Ctx() context: BusContext,
  ): Promise<InstallConnectionReply> {
    const key =
      command.idempotency_key ??
      (context.deliveryId ? `delivery:${context.deliveryId}` : undefined);
    return this.connections.install(key ? { ...command, idempotency_key: key } : command);
  }

  @Handle(SandboxConnectionList)
  list(query: ListConnectionsQuery): Promise<ConnectionList> {
    return this.connections.list(query.account_id);
  }

  @Handle(SandboxConnectionGet)
  get(query: ConnectionQuery): Promise<ConnectionView> {
    return this.connections.get(query);
  }

  @Handle(SandboxConnectionStop)
  stop(command: ConnectionCommand): Promise<ConnectionView> {
    return this.connections.stop(command);
  }

  @Handle(SandboxConnectionStart)
  start(command: ConnectionCommand): Promise<ConnectionView> {
    return this.connections.start(command);
  }

  @Handle(SandboxConnectionReplaceCredentials)
  replaceCredentials(command: ReplaceCredentialsCommand): Promise<ConnectionView> {
    return this.connections.replaceCredentials(command);
  }

  @Handle(SandboxConnectionDelete)
  delete(command: ConnectionCommand): Promise<DeletedConnectionReply> {
    return this.connections.delete(command);
  }

  @Handle(SandboxConnectionEventList)
  events(query: ConnectionQuery): Promise<ConnectionEventList> {
    return this.connections.events(query);
  }

  @Handle(SandboxConnectionLogList)
  logs(query: ConnectionLogsQuery): Promise<ConnectionLogList> {
    return this.connections.logsOf(query);
  }

  @Handle(SandboxAccountHealthGet)
  health(query: AccountHealthQuery): Promise<AccountHealthReply> {
    return this.connections.health(query.account_id);
  }

  @Handle(SandboxConnectionRouteGet)
  route(query: ConnectionRouteQuery): Promise<ConnectionRouteReply> {
    return this.connections.route(query.id);
  }

  @Handle(SandboxConnectionTouch)
  touch(command: TouchConnectionsCommand): Promise<TouchedReply> {
    return this.connections.touch(command.connection_ids, command.at);
  }
}
