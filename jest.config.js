// One root jest run for every tier (faster in CI than per-project runs). Tiers:
// unit (*.spec.ts beside the code), integration (apps|libs/*/test/*.int-spec.ts: real RabbitMQ
// and Postgres), e2e (test/e2e: every service as a process), serial (test/serial: tests that
// restart RabbitMQ or Postgres or kill services; run after the rest with --runInBand).
const fs = require('node:fs');
const path = require('node:path');

const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '.swcrc'), 'utf8'));
delete swcrc.$schema;
const tsconfig = JSON.parse(fs.readFileSync(path.join(__dirname, 'tsconfig.base.json'), 'utf8'));

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.(ts|js)$': [
      '@swc/jest',
      {
        ...swcrc,
        swcrc: false,
        jsc: { ...swcrc.jsc, baseUrl: __dirname, paths: tsconfig.compilerOptions.paths },
      },
    ],
  },
  // ESM-only packages are compiled to CommonJS for jest like our own code.
  transformIgnorePatterns: ['/node_modules/(?!(jose|e2b|chalk)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  setupFiles: ['reflect-metadata'],
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/mcp-packages/'],
};

module.exports = {
  globalSetup: '<rootDir>/libs/testing/src/jest/global-setup.ts',
  globalTeardown: '<rootDir>/libs/testing/src/jest/global-teardown.ts',
  testTimeout: 60000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,libs}/**/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: [
        '<rootDir>/{apps,libs}/*/test/**/*.int-spec.ts',
        '<rootDir>/test/integration/**/*.int-spec.ts',
      ],
    },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...common, displayName: 'serial', testMatch: ['<rootDir>/test/serial/**/*.serial-spec.ts'] },
  ],
};
