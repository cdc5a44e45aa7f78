import { RmqContext } from '@nestjs/microservices';

/**
 * What a handler learns of the message it serves: RabbitMQ's own (RmqContext), and the id the
 * sender gave it (`messageId`, else the envelope's `id`), the same on every redelivery.
 */
export class BusContext extends RmqContext {
  constructor(
    args: ConstructorParameters<typeof RmqContext>[0],
    readonly deliveryId: string | undefined,
  ) {
    super(args);
  }
}
