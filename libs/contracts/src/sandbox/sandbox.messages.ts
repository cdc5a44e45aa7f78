import { defineCommand, defineEvent } from '../message';
import {
  AccountHealthQuery,
  AccountHealthReply,
  ConnectionCommand,
  ConnectionDeletedEvent,
  ConnectionEventList,
  ConnectionList,
  ConnectionLogList,
  ConnectionLogsQuery,
  ConnectionQuery,
  ConnectionRouteQuery,
  ConnectionRouteReply,
  ConnectionStatusChangedEvent,
  ConnectionView,
  DeletedConnectionReply,
  InstallConnectionCommand,
  InstallConnectionReply,
  ListConnectionsQuery,
  ReplaceCredentialsCommand,
  TouchConnectionsCommand,
  TouchedReply,
} from './sandbox.dto';

export const SandboxConnectionInstall = defineCommand({
  name: 'sandbox.connection.install',
  payload: InstallConnectionCommand,
  reply: InstallConnectionReply,
  summary:
    "Installs an MCP server for an account: validates type, config and credentials, persists the connection in mcpPending and replies; deployment then proceeds through status changes. Idempotent per idempotency_key (without one, per message id: the key `delivery:<message id>`). The connection's id is installConnectionId(account_id, key) of @athenic/platform-crypto, and every sealed credential value must be bound to it (ath_cid): send an idempotency_key when sealing values yourself. The same key with another request is `idempotency_conflict`; with an install of it still running, the answer waits for that one (`operation_in_progress` after 4 s).",
});

export const SandboxConnectionList = defineCommand({
  name: 'sandbox.connection.list',
  payload: ListConnectionsQuery,
  reply: ConnectionList,
  summary: "An account's connections, oldest first.",
});

export const SandboxConnectionGet = defineCommand({
  name: 'sandbox.connection.get',
  payload: ConnectionQuery,
  reply: ConnectionView,
  summary: "One connection; `not_found` for an unknown id or another account's.",
});

export const SandboxConnectionStop = defineCommand({
  name: 'sandbox.connection.stop',
  payload: ConnectionCommand,
  reply: ConnectionView,
  summary: 'Stops a connection (desired state stopped); `invalid_transition` when already stopped.',
});

export const SandboxConnectionStart = defineCommand({
  name: 'sandbox.connection.start',
  payload: ConnectionCommand,
  reply: ConnectionView,
  summary:
    'Starts a stopped or failed connection (desired state running); `invalid_transition` otherwise.',
});

export const SandboxConnectionReplaceCredentials = defineCommand({
  name: 'sandbox.connection.replace-credentials',
  payload: ReplaceCredentialsCommand,
  reply: ConnectionView,
  summary:
    "Replaces a connection's credentials (validated as at install); a running one is redeployed, a deploying one restarts its deploy.",
});

export const SandboxConnectionDelete = defineCommand({
  name: 'sandbox.connection.delete',
  payload: ConnectionCommand,
  reply: DeletedConnectionReply,
  summary: 'Deletes a connection: sandbox stopped, credentials and working dir destroyed.',
});

export const SandboxConnectionEventList = defineCommand({
  name: 'sandbox.connection-event.list',
  payload: ConnectionQuery,
  reply: ConnectionEventList,
  summary: 'Every status transition of a connection, oldest first.',
});

export const SandboxConnectionLogList = defineCommand({
  name: 'sandbox.connection-log.list',
  payload: ConnectionLogsQuery,
  reply: ConnectionLogList,
  summary: "The last lines of a connection's server output and lifecycle, secrets masked.",
});

export const SandboxAccountHealthGet = defineCommand({
  name: 'sandbox.account-health.get',
  payload: AccountHealthQuery,
  reply: AccountHealthReply,
  summary: 'Pings every running connection of an account over MCP; reports errors of failed ones.',
});

export const SandboxConnectionRouteGet = defineCommand({
  name: 'sandbox.connection-route.get',
  payload: ConnectionRouteQuery,
  reply: ConnectionRouteReply,
  summary: "Where a connection's bridge listens, for the gateway's MCP endpoint.",
});

export const SandboxConnectionTouch = defineCommand({
  name: 'sandbox.connection.touch',
  payload: TouchConnectionsCommand,
  reply: TouchedReply,
  summary:
    'Records activity on connections (batched by the gateway): it keeps them from being stopped as idle.',
});

export const SandboxConnectionStatusChanged = defineEvent({
  name: 'sandbox.connection.status-changed',
  payload: ConnectionStatusChangedEvent,
  summary: 'A connection changed status; one event per transition, in order.',
});

export const SandboxConnectionDeleted = defineEvent({
  name: 'sandbox.connection.deleted',
  payload: ConnectionDeletedEvent,
  summary: 'A connection was deleted; its credentials and files are gone.',
});
