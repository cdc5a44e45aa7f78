import { type ConnectionView, DomainError } from '@athenic/contracts';
import type { BusClient } from '@athenic/messaging';
import { GatewayReads } from './gateway-reads';

// The bus is a stand-in that answers like the sandbox service and counts what it was asked.
describe('GatewayReads', () => {
  const view = (id: string, account: string) => ({ id, account_id: account }) as ConnectionView;
  let asked: string[];
  let reads: GatewayReads;

  beforeEach(() => {
    asked = [];
    const bus = {
      send: async (def: { name: string }, payload: { id?: string; account_id?: string }) => {
        asked.push(def.name);
        if (def.name === 'sandbox.connection.get') return view(payload.id!, 'acct-a');
        if (def.name === 'sandbox.connection.list')
          return { data: [view('c1', payload.account_id!), view('c2', payload.account_id!)] };
        throw new Error(`unexpected ${def.name}`);
      },
    } as unknown as BusClient;
    reads = new GatewayReads(bus);
  });

  it("refuses another account's connection from the cache exactly as the service would", async () => {
    expect((await reads.getConnection('c1')).account_id).toBe('acct-a');
    const error = await reads.getConnection('c1', 'acct-b').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toMatchObject({ code: 'not_found', message: 'No connection c1 exists.' });
    expect(await reads.getConnection('c1', 'acct-a')).toMatchObject({ id: 'c1' });
    expect(asked).toEqual(['sandbox.connection.get']);
  });

  it('drops a changed connection and its account list at once', async () => {
    await reads.listConnections('acct-a');
    await reads.getConnection('c2');
    reads.connectionChanged('c2');
    await reads.listConnections('acct-a');
    await reads.getConnection('c2');
    expect(asked).toEqual([
      'sandbox.connection.list',
      'sandbox.connection.get',
      'sandbox.connection.list',
      'sandbox.connection.get',
    ]);
  });
});
