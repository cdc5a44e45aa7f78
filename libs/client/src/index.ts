export { AthenicApiError, type PlatformOptions } from './api';
export { keepGoingOnUnknownTools, type KeepGoingOptions } from './keep-going';
export {
  buildMcpServersConfig,
  type BuildOptions,
  type McpServerConfig,
  type McpServersConfig,
} from './mcp-servers-config';
export {
  McpServerUnavailableError,
  mcpTools,
  type McpToolset,
  type McpToolsOptions,
  type ToolCallOutcome,
  type ToolCallStart,
  type ToolCallTracker,
} from './mcp-tools';
export {
  MAX_ALLOW_PATTERN_LENGTH,
  MAX_ALLOW_PATTERNS,
  modelToolName,
  toolAllowList,
} from './tool-names';
