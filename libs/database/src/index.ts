export * from './data-source';
export * from './database.module';
export * from './health';
export * from './provision';
