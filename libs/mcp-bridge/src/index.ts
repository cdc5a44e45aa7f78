export * from './bridge';
export * from './jsonrpc';
export * from './sse';
export * from './upstream';
export * from './child-upstream';
export * from './serve-protocol';
export * from './session-budget';
