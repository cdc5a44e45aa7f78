export * from './internal-auth';
export * from './sealing';
