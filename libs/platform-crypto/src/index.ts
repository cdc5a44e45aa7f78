export * from './internal-auth';
export * from './sealing';
export * from './secret-masker';
export * from './run-token';
export * from './install-connection-id';
