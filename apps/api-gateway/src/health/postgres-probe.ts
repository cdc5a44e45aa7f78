import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { GATEWAY_CONFIG, type GatewayConfig } from '../config/env';

/** The gateway keeps no business state; it only checks that the platform's database answers. */
@Injectable()
export class PostgresProbe implements OnApplicationShutdown {
  private readonly pool: Pool;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.pool = new Pool({
      connectionString: config.env.DATABASE_URL,
      max: 2,
      connectionTimeoutMillis: 1500,
      query_timeout: 1500,
      idleTimeoutMillis: 10000,
      application_name: 'athenic-api-gateway',
    });
    // An idle client that loses its server must not crash the process.
    this.pool.on('error', () => undefined);
  }

  async check(): Promise<{ status: 'ok' | 'error'; error?: string }> {
    try {
      await this.pool.query('SELECT 1');
      return { status: 'ok' };
    } catch (error) {
      return { status: 'error', error: error instanceof Error ? error.message : String(error) };
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
