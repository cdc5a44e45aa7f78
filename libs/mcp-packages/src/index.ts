export * from './installed-packages';
