import {
  type GetMcpServerQuery,
  type McpServerEntry,
  type McpServerList,
  RegistryServerCreated,
  RegistryServerGet,
} from '@athenic/contracts';
import type { BusClient } from './bus-client';
import { Handle, HandlerFailure } from './handle.decorator';

// The same for producers: the payload and the awaited reply are bound to the message.
export async function producer(bus: BusClient): Promise<void> {
  // @ts-expect-error the payload of registry.server.get has an id, not a name
  await bus.send(RegistryServerGet, { name: 'memory-server' });
  // @ts-expect-error the reply of registry.server.get is one entry, not a list
  const list: McpServerList = await bus.send(RegistryServerGet, { id: 'memory-server' });
  // @ts-expect-error an event cannot be sent as a request
  await bus.send(RegistryServerCreated, { id: 'x', created_at: 'y' });
  void list;
}

// The type checker is the test here: a handler whose payload or reply disagrees with its
// message's contract does not compile. `npm test` runs tsc, which fails on an unused
// expect-error directive, so each mistake below must really be rejected.
class Handlers {
  @Handle(RegistryServerGet)
  async good(query: GetMcpServerQuery): Promise<McpServerEntry> {
    return { id: query.id } as McpServerEntry;
  }

  // @ts-expect-error the reply type is another message's
  @Handle(RegistryServerGet)
  async wrongReply(_query: GetMcpServerQuery): Promise<McpServerList> {
    return { data: [] };
  }

  // @ts-expect-error the payload type is another message's
  @Handle(RegistryServerGet)
  async wrongPayload(_query: { name: number }): Promise<McpServerEntry> {
    return {} as McpServerEntry;
  }

  // @ts-expect-error an event handler returns nothing
  @Handle(RegistryServerCreated)
  async eventWithReply(): Promise<number> {
    return 1;
  }

  @Handle(RegistryServerGet)
  async failing(): Promise<McpServerEntry> {
    throw new Error('boom');
  }
}

describe('@Handle', () => {
  it('hands what a handler throws to the bus server instead of to Nest', async () => {
    const result = await new Handlers().failing();
    expect(result).toBeInstanceOf(HandlerFailure);
    expect(((result as unknown as HandlerFailure).error as Error).message).toBe('boom');
  });

  it('leaves a successful result as it is', async () => {
    expect(await new Handlers().good({ id: 'x' })).toEqual({ id: 'x' });
  });
});
