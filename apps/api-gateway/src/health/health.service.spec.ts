import type { BusClient } from '@athenic/messaging';
import { HEALTH_CACHE_MS, HealthService } from './health.service';
import type { PostgresProbe } from './postgres-probe';

// /health needs no key, so its work is shared: one round of questions per period, however many
// callers ask. The bus and Postgres are stand-ins that count the questions.
describe('HealthService', () => {
  let questions: number;
  let service: HealthService;

  beforeEach(() => {
    questions = 0;
    const bus = {
      isConnected: () => true,
      send: async () => {
        questions += 1;
        return { status: 'ok', checks: [] };
      },
    } as unknown as BusClient;
    const postgres = { check: async () => ({ status: 'ok' }) } as unknown as PostgresProbe;
    service = new HealthService(bus, postgres);
  });

  it('asks each service once for any number of concurrent and repeated callers within the period', async () => {
    const answers = await Promise.all(Array.from({ length: 50 }, () => service.check(1_000)));
    expect(new Set(answers).size).toBe(1);
    expect(answers[0].status).toBe('ok');
    expect(questions).toBe(4);
    await service.check(1_000 + HEALTH_CACHE_MS - 1);
    expect(questions).toBe(4);
  });

  it('asks again once the period is over', async () => {
    await service.check(1_000);
    await service.check(1_000 + HEALTH_CACHE_MS);
    expect(questions).toBe(8);
  });
});
