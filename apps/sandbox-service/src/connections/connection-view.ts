import type { ConnectionView } from '@athenic/contracts';
import type { ConnectionEntity } from './connection.entity';

export function toView(row: ConnectionEntity): ConnectionView {
  return {
    id: row.id,
    account_id: row.accountId,
    mcp_server_id: row.mcpServerId,
    title: row.title,
    status: row.status,
    status_reason: row.statusReason,
    desired_state: row.desiredState,
    isolation: row.isolation,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    last_active_at: row.lastActiveAt ? row.lastActiveAt.toISOString() : null,
  };
}
