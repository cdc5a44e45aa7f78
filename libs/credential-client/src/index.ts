export * from './credential-revealer';
