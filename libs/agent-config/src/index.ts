export * from './mcp-servers-config';
