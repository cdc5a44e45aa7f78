import type { JsonSchema } from '../forms/schema-form';

export interface ServerType {
  id: string;
  name: string;
  description: string;
  category: string;
  transport: string;
  package: string | null;
  version: string | null;
  credential_schema: JsonSchema;
  config_schema: JsonSchema;
  egress: string[];
  builtin: boolean;
  visibility?: string;
  isolation?: string;
  /** A remote server's URL and header templates (credential values are never in them). */
  remote?: { url: string; headers: Record<string, string> } | null;
}

export interface Connection {
  id: string;
  account_id: string;
  mcp_server_id: string;
  title: string;
  status: string;
  status_reason: string;
  desired_state: string;
  isolation: string | null;
  created_at: string;
  updated_at: string;
  last_active_at: string | null;
  mcp_url?: string;
}

export interface ConnectionEvent {
  from: string | null;
  to: string;
  reason: string;
  at: string;
  [key: string]: unknown;
}

export interface LogLine {
  stream: string;
  line: string;
  at: string;
}

export interface ToolCall {
  id: string;
  state: 'running' | 'finished' | 'refused';
  connection_id: string | null;
  tool: string;
  arguments: unknown;
  result: unknown;
  is_error: boolean;
  duration_ms: number | null;
  started_at: string;
}

export interface Run {
  id: string;
  account_id: string;
  status: string;
  model: string;
  output: string | null;
  tool_calls: ToolCall[];
  error: string | null;
  created_at: string;
  finished_at: string | null;
}

export interface AccountHealth {
  status: string;
  checked_at: string;
  connections: {
    id: string;
    title: string;
    status: string;
    healthy: boolean | null;
    response_time_ms: number | null;
    error: string | null;
  }[];
}

export interface RunSummary {
  id: string;
  status: string;
  model: string;
  message: string;
  tool_calls: number;
  created_at: string;
  finished_at: string | null;
}
