export * from './address-rules';
export * from './allow-private';
export * from './declared-egress';
export * from './egress-guard';
export * from './targets';
export * from './egress-proxy';
export * from './sandbox-shim';
export * from './early-check';
