// Decorator metadata (class-transformer, class-validator) needs the polyfill before any class loads.
import 'reflect-metadata';
export * from './message';
export * from './errors';
export * from './catalog';
export * from './shared/empty.dto';
export * from './shared/validators';
export * from './health/health.messages';
export * from './agent/agent.dto';
export * from './agent/agent.messages';
export * from './credential/credential.dto';
export * from './credential/credential.messages';
export * from './registry/registry.dto';
export * from './sandbox/sandbox.dto';
export * from './sandbox/sandbox.messages';
export * from './registry/registry.messages';
export * from './validation';
export * from './registry/launch-reference';
export * from './asyncapi';
