export * from './http-client';
export * from './infrastructure';
export * from './platform';
export * from './repo';
export * from './service-process';
export * from './bus-service';
export * from './raw-amqp';
