import { ALL_MESSAGES, buildAsyncApiDocument } from '@athenic/contracts';
import { REPO_ROOT } from '@athenic/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';

describe('docs/asyncapi.json, the bus as an API', () => {
  const committed = JSON.parse(
    fs.readFileSync(path.join(REPO_ROOT, 'docs', 'asyncapi.json'), 'utf8'),
  );
  const generated = buildAsyncApiDocument() as any;

  it('is in step with libs/contracts (regenerate with "npm run asyncapi")', () => {
    expect(committed).toEqual(generated);
  });

  it.each(ALL_MESSAGES.map((def) => [def.name, def] as const))(
    'documents %s with its routing key, payload and reply',
    (name, def) => {
      const channel = committed.channels[name];
      expect(channel.address).toBe(name);
      expect(channel.bindings.amqp.exchange).toMatchObject({
        name: 'bus',
        type: 'topic',
        durable: true,
      });
      const message = committed.components.messages[name];
      expect(message.payload.properties.pattern).toEqual({ type: 'string', const: name });
      expect(message.payload.properties.data).toEqual({
        $ref: `#/components/schemas/${def.payload.name}`,
      });
      expect(committed.components.schemas[def.payload.name]).toBeDefined();
      const operation = committed.operations[name];
      if (def.kind === 'command') {
        expect(operation.action).toBe('receive');
        expect(operation.reply.messages).toEqual([
          { $ref: `#/channels/reply/messages/${name}.reply` },
        ]);
        expect(committed.components.messages[`${name}.reply`].payload.properties.response).toEqual({
          $ref: `#/components/schemas/${def.reply.name}`,
        });
        expect(committed.components.schemas[def.reply.name]).toBeDefined();
      } else {
        expect(operation.action).toBe('send');
        expect(operation.reply).toBeUndefined();
      }
    },
  );

  it('documents no message that libs/contracts does not define', () => {
    const documented = Object.keys(committed.operations).sort();
    expect(documented).toEqual(ALL_MESSAGES.map((d) => d.name).sort());
  });
});
