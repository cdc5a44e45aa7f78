import { IsString } from 'class-validator';
import { defineCommand, defineEvent } from './message';
import { parseLaunchValue } from './registry/launch-reference';

class Payload {
  @IsString()
  id: string;
}

describe('message definitions', () => {
  it('take their owner from the first segment of the name', () => {
    expect(
      defineCommand({
        name: 'sandbox.connection.install',
        payload: Payload,
        reply: Payload,
        summary: '',
      }).owner,
    ).toBe('sandbox');
    expect(
      defineEvent({ name: 'registry.server.created', payload: Payload, summary: '' }).kind,
    ).toBe('event');
  });

  it('refuse a name that is not <owner>.<entity>.<action>, lower-case and dotted', () => {
    expect(() =>
      defineCommand({
        name: 'Registry.Server.List',
        payload: Payload,
        reply: Payload,
        summary: '',
      }),
    ).toThrow(/lower-case and dotted/);
    expect(() => defineEvent({ name: 'registry.created', payload: Payload, summary: '' })).toThrow(
      /<owner>\.<entity>\.<action>/,
    );
  });

  it('refuse an owner that is not a service', () => {
    expect(() =>
      defineEvent({ name: 'billing.invoice.created', payload: Payload, summary: '' }),
    ).toThrow('unknown owner "billing"');
  });
});

describe('launch values', () => {
  it.each([
    ['credential:github_token', { kind: 'credential', key: 'github_token' }],
    [
      'credential-file:google_oauth_credentials',
      { kind: 'credential-file', key: 'google_oauth_credentials' },
    ],
    ['credential-headers:api_headers', { kind: 'credential-headers', key: 'api_headers' }],
    ['config:api_base_url', { kind: 'config', key: 'api_base_url' }],
    ['workdir:memory.jsonl', { kind: 'workdir', path: 'memory.jsonl' }],
    ['stdio', { kind: 'literal', value: 'stdio' }],
    ['--transport', { kind: 'literal', value: '--transport' }],
    ['http://example.com:80', { kind: 'literal', value: 'http://example.com:80' }],
  ])('%s is read as %j', (value, expected) => {
    expect(parseLaunchValue(value)).toEqual(expected);
  });
});
