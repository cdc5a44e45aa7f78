import type { ConnectionView } from '@athenic/contracts';
import type { ConnectionResponse } from './connections.dto';

export function withMcpUrl(view: ConnectionView, publicBaseUrl: string): ConnectionResponse {
  return {
    id: view.id,
    account_id: view.account_id,
    mcp_server_id: view.mcp_server_id,
    title: view.title,
    status: view.status,
    status_reason: view.status_reason,
    desired_state: view.desired_state,
    isolation: view.isolation,
    mcp_url: `${publicBaseUrl}/functions/v1/mcp-connections/${view.id}/mcp`,
    created_at: view.created_at,
    updated_at: view.updated_at,
    last_active_at: view.last_active_at,
  };
}
