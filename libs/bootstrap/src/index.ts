export * from './bus-service';
export * from './service-module';
export * from './shutdown';
export * from './process-guards';
export * from './least-privilege';
