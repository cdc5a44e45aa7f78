import type { Owner } from '@athenic/contracts';
import { BusModule, BusServer, type QueueType } from '@athenic/messaging';
import { type INestMicroservice, Module, type Provider, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

/**
 * An in-process service on the real broker, made of the messaging lib and the test's own
 * handlers: for testing the bus itself without a whole platform.
 */
export async function startTestBusService(options: {
  owner: Owner;
  amqpUrl: string;
  controllers?: Type<unknown>[];
  providers?: Provider[];
  requestTimeoutMs?: number;
  queueType?: QueueType;
}): Promise<INestMicroservice> {
  @Module({
    imports: [
      BusModule.forRoot({
        url: options.amqpUrl,
        owner: options.owner,
        requestTimeoutMs: options.requestTimeoutMs,
      }),
    ],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  })
  class TestServiceModule {}

  const app = await NestFactory.createMicroservice(TestServiceModule, {
    strategy: new BusServer({
      url: options.amqpUrl,
      owner: options.owner,
      queueType: options.queueType,
    }),
    logger: false,
  });
  try {
    await app.listen();
  } catch (error) {
    await app.close();
    throw error;
  }
  return app;
}
