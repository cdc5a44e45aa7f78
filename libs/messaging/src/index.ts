export * from './bus-client';
export * from './bus-options';
export * from './bus-server';
export * from './bus.module';
export * from './handle.decorator';
export * from './topology';
export * from './service-health';
