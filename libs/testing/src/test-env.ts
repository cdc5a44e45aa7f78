/**
 * Where the shared servers of this test run are; set by the jest global setup. A module of its
 * own: the global setup runs in jest's main process, where loading the platform's libraries
 * (contracts, messaging) would register their classes' validation metadata a second time beside
 * the copies a test file loads in band.
 */
export const TEST_ENV = {
  postgres: 'ATHENIC_TEST_POSTGRES_URL',
  amqp: 'ATHENIC_TEST_AMQP_URL',
  rabbitApi: 'ATHENIC_TEST_RABBIT_API',
  mode: 'ATHENIC_TEST_INFRA',
} as const;
