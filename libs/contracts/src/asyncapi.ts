import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { ALL_MESSAGES } from './catalog';
import { ERROR_CODES } from './errors';
import { type MessageDef, SERVICE_OF_OWNER } from './message';

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/**
 * The bus as an API for other internal services: every message with its exchange, routing key,
 * payload schema and reply, generated from the contract classes themselves. docs/asyncapi.json is
 * this document; a test fails when the two differ.
 */
export function buildAsyncApiDocument(): Record<string, unknown> {
  const schemas = validationMetadatasToSchemas({ refPointerPrefix: '#/components/schemas/' });
  const messages = [...ALL_MESSAGES].sort((a, b) => a.name.localeCompare(b.name));
  const used = new Set<string>();
  const collect = (name: string) => {
    if (used.has(name)) return;
    used.add(name);
    for (const match of JSON.stringify(schemas[name] ?? {}).matchAll(
      /#\/components\/schemas\/(\w+)/g,
    ))
      collect(match[1]);
  };
  for (const def of messages) {
    collect(def.payload.name);
    if (def.kind === 'command') collect(def.reply.name);
  }
  const componentSchemas: Record<string, unknown> = {
    ErrorBody: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(ERROR_CODES) },
        message: { type: 'string', description: 'One sentence a person can act on.' },
        details: {
          type: 'array',
          items: { type: 'string' },
          description: 'One line per problem, naming the field.',
        },
      },
    },
  };
  for (const name of [...used].sort())
    componentSchemas[name] = schemas[name] ?? {
      type: 'object',
      properties: {},
      additionalProperties: false,
    };

  const channels: Record<string, unknown> = {
    reply: {
      address: null,
      description:
        "The reply queue named by the request's `replyTo` property (for example RabbitMQ's direct reply-to, `amq.rabbitmq.reply-to`).",
      messages: Object.fromEntries(
        messages
          .filter((d) => d.kind === 'command')
          .map((d) => [`${d.name}.reply`, { $ref: `#/components/messages/${d.name}.reply` }]),
      ),
    },
  };
  const operations: Record<string, unknown> = {};
  const componentMessages: Record<string, unknown> = {};
  for (const def of messages) {
    channels[def.name] = {
      address: def.name,
      description: `Routing key "${def.name}" on the "bus" topic exchange; consumed by ${consumers(def)}.`,
      messages: { [def.name]: { $ref: `#/components/messages/${def.name}` } },
      bindings: {
        amqp: {
          is: 'routingKey',
          exchange: { name: 'bus', type: 'topic', durable: true, autoDelete: false, vhost: '/' },
          bindingVersion: '0.3.0',
        },
      },
    };
    componentMessages[def.name] = {
      name: def.name,
      summary: def.summary,
      contentType: 'application/json',
      ...(def.kind === 'command'
        ? { correlationId: { location: '$message.header#/correlation_id' } }
        : {}),
      headers: headersSchema(),
      payload: envelope(def),
      bindings: { amqp: { deliveryMode: 2, bindingVersion: '0.3.0' } },
    };
    if (def.kind === 'command') {
      componentMessages[`${def.name}.reply`] = {
        name: `${def.name}.reply`,
        summary: `Reply to ${def.name}: \`response\` on success, \`err\` on failure.`,
        contentType: 'application/json',
        correlationId: { location: '$message.header#/correlation_id' },
        payload: {
          type: 'object',
          required: ['isDisposed'],
          properties: {
            id: { type: 'string', description: "The request's `id`." },
            isDisposed: { type: 'boolean', const: true },
            response: ref(def.reply.name),
            err: ref('ErrorBody'),
          },
        },
      };
      operations[def.name] = {
        action: 'receive',
        channel: { $ref: `#/channels/${def.name}` },
        summary: def.summary,
        description: `Handled by ${SERVICE_OF_OWNER[def.owner]}. Send it with \`replyTo\` and \`correlationId\` set to get a reply; without \`replyTo\` it runs with no reply.`,
        messages: [{ $ref: `#/channels/${def.name}/messages/${def.name}` }],
        reply: {
          address: { location: '$message.header#/reply_to' },
          channel: { $ref: '#/channels/reply' },
          messages: [{ $ref: `#/channels/reply/messages/${def.name}.reply` }],
        },
      };
    } else {
      operations[def.name] = {
        action: 'send',
        channel: { $ref: `#/channels/${def.name}` },
        summary: def.summary,
        description: `Published by ${SERVICE_OF_OWNER[def.owner]} only; bind a queue of your own to the "bus" exchange with this routing key to receive it.`,
        messages: [{ $ref: `#/channels/${def.name}/messages/${def.name}` }],
      };
    }
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Athenic MCP platform bus',
      version: '1.0.0',
      description: [
        'Every message goes through the durable topic exchange `bus` with its name as routing key, as a persistent JSON message.',
        'Body: `{"pattern": <name>, "data": <payload>}` for events, plus `"id"` for commands and queries.',
        'A command or query sent with `replyTo` and `correlationId` is answered on `replyTo` with `{"id", "isDisposed": true, "response"}` or `{"id", "isDisposed": true, "err": {"code", "message", "details"?}}`.',
        'Set `expiration` (ms) on a request you will stop waiting for, so it is never executed late.',
        'Header `x-correlation-id` is carried into every log line of every service that handles the message.',
        'A payload that fails validation is answered with `validation_failed` (when a reply is asked) and moved to the queue `bus.dead-letter` with the header `x-dead-letter-reason`.',
      ].join('\n'),
    },
    defaultContentType: 'application/json',
    servers: {
      rabbitmq: {
        host: 'localhost:5672',
        protocol: 'amqp',
        protocolVersion: '0.9.1',
        description: 'Set by AMQP_URL.',
      },
    },
    channels,
    operations,
    components: { messages: componentMessages, schemas: componentSchemas },
  };
}

function consumers(def: MessageDef): string {
  return def.kind === 'command' ? SERVICE_OF_OWNER[def.owner] : 'any service that listens to it';
}

function headersSchema(): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      'x-correlation-id': {
        type: 'string',
        maxLength: 128,
        description: 'Carried into the logs of every service involved.',
      },
    },
  };
}

function envelope(def: MessageDef): Record<string, unknown> {
  return {
    type: 'object',
    required: def.kind === 'command' ? ['pattern', 'id', 'data'] : ['pattern', 'data'],
    properties: {
      pattern: { type: 'string', const: def.name },
      ...(def.kind === 'command'
        ? { id: { type: 'string', description: 'Unique per request; echoed in the reply.' } }
        : {}),
      data: ref(def.payload.name),
    },
  };
}
