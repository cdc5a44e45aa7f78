import {
  type DynamicModule,
  Global,
  Logger,
  Module,
  type OnApplicationBootstrap,
  Inject,
} from '@nestjs/common';
import { BusClient } from './bus-client';
import { type BusOptions, describeBrokerUrl } from './bus-options';

export const BUS_OPTIONS = Symbol('BUS_OPTIONS');

class BusConnector implements OnApplicationBootstrap {
  private readonly log = new Logger('Bus');
  constructor(
    private readonly client: BusClient,
    @Inject(BUS_OPTIONS) private readonly options: BusOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Connect in the background: a broker that is down at start is retried, and requests made
    // meanwhile fail with a clear 503 rather than hanging.
    this.client.connect().then(
      () => this.log.log(`Connected to ${describeBrokerUrl(this.options.url)}`),
      (error: unknown) =>
        this.log.error(
          `Cannot reach RabbitMQ at ${describeBrokerUrl(this.options.url)}: ${String(error)}; retrying`,
        ),
    );
  }
}

@Global()
@Module({})
export class BusModule {
  static forRoot(options: BusOptions): DynamicModule {
    return {
      module: BusModule,
      providers: [
        { provide: BUS_OPTIONS, useValue: options },
        { provide: BusClient, useFactory: () => new BusClient(options) },
        {
          provide: BusConnector,
          useFactory: (client: BusClient) => new BusConnector(client, options),
          inject: [BusClient],
        },
      ],
      exports: [BusClient, BUS_OPTIONS],
    };
  }
}
