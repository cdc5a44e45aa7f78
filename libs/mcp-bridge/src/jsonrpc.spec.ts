import { peekEnvelope } from './jsonrpc';

/** The first and last `n` characters of a message, as a dropped line keeps them. */
function ends(message: string, n = 64): [string, string] {
  return [message.slice(0, n), message.slice(-n)];
}

const filler = 'x'.repeat(1000);

describe('peekEnvelope', () => {
  it("finds the id the MCP SDK writes last in a response, from the message's end", () => {
    const message = JSON.stringify({
      result: { content: [{ type: 'text', text: filler }] },
      jsonrpc: '2.0',
      id: 42,
    });
    expect(peekEnvelope(...ends(message))).toEqual({ id: 42 });
  });

  it('finds a string id with escapes, and an id written first, from its start', () => {
    const stringId = JSON.stringify({ result: { text: filler }, jsonrpc: '2.0', id: 'a"b\\' });
    expect(peekEnvelope(...ends(stringId))).toEqual({ id: 'a"b\\' });
    const idFirst = JSON.stringify({ jsonrpc: '2.0', id: 'req-1', result: { text: filler } });
    expect(peekEnvelope(...ends(idFirst))).toEqual({ id: 'req-1' });
  });

  it("tells a server's request by its method, found at the start, with its id from the end", () => {
    const request = JSON.stringify({
      method: 'sampling/createMessage',
      params: { messages: [{ content: { text: filler } }] },
      jsonrpc: '2.0',
      id: 0,
    });
    expect(peekEnvelope(...ends(request))).toEqual({ id: 0, method: 'sampling/createMessage' });
    const notification = JSON.stringify({
      method: 'notifications/message',
      params: { data: filler },
      jsonrpc: '2.0',
    });
    expect(peekEnvelope(...ends(notification))).toEqual({ method: 'notifications/message' });
  });

  it('never takes an id nested in the result or written inside a string', () => {
    const nested = JSON.stringify({ jsonrpc: '2.0', result: { text: filler, item: { id: 9 } } });
    expect(peekEnvelope(...ends(nested))).toEqual({});
    const nestedArray = JSON.stringify({ result: { text: filler, items: [{ id: 9 }] } });
    expect(peekEnvelope(...ends(nestedArray))).toEqual({});
    const inString = JSON.stringify({ result: `${filler}"id":5}`, jsonrpc: '2.0' });
    expect(peekEnvelope(...ends(inString))).toEqual({});
    const inStringLast = JSON.stringify({ result: `${filler}","id":5` });
    expect(peekEnvelope(...ends(inStringLast))).toEqual({});
  });

  it('gives up on a member cut by the end of the kept bytes rather than guess', () => {
    // The head ends inside the id's digits: "id":12 might be "id":123456.
    const message = `{"id":123456,"result":{"text":"${filler}"}}`;
    expect(peekEnvelope(message.slice(0, 11), message.slice(-10))).toEqual({});
    // The tail starts inside the id's digits.
    const last = `{"result":{"text":"${filler}"},"id":123456}`;
    expect(peekEnvelope(last.slice(0, 10), last.slice(-4))).toEqual({});
    expect(peekEnvelope('not json', 'at all')).toEqual({});
  });
});
