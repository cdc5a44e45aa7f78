import {
  RemoteTemplateError,
  checkRemoteTemplate,
  resolveRemoteHeaders,
  resolveRemoteUrl,
} from './remote-template';

const config = {
  type: 'object',
  properties: { host: { type: 'string' }, port: { type: 'integer' }, tenant: { type: 'string' } },
  additionalProperties: false,
};
const credentials = {
  type: 'object',
  properties: { token: { type: 'string', maxLength: 100 } },
  additionalProperties: false,
};

describe('checkRemoteTemplate', () => {
  it('accepts config variables in the URL and headers, credentials in headers', () => {
    expect(
      checkRemoteTemplate(
        {
          url: 'https://{host}:{port}/t/{tenant}/mcp?x=1',
          headers: { Authorization: 'Bearer {credential:token}', 'X-Tenant': '{tenant}' },
        },
        config,
        credentials,
      ),
    ).toEqual([]);
  });

  it.each([
    ['ftp://example.com/mcp', {}, 'remote.url must start with http:// or https://'],
    ['example.com/mcp', {}, 'remote.url must start with http:// or https://'],
    [
      'https://{nope}/mcp',
      {},
      'remote.url refers to config "nope", which config_schema does not declare',
    ],
    [
      'https://example.com/{credential:token}',
      {},
      'remote.url refers to credential "token": credentials go in remote.headers',
    ],
    ['https://user:pw@example.com/mcp', {}, 'remote.url must not hold a user name or password'],
    ['https://example.com/mcp#x', {}, 'remote.url must not have a fragment'],
    ['https://example.com/{a b}', {}, 'is not a variable'],
    ['https://example.com/{tenant', {}, 'unmatched'],
    ['https://example.com/mcp', { 'Bad Name': 'x' }, 'is not a valid header name'],
    ['https://example.com/mcp', { host: 'x' }, 'remote.headers.host is set by the platform'],
    ['https://example.com/mcp', { 'Mcp-Session-Id': 'x' }, 'is set by the platform'],
    [
      'https://example.com/mcp',
      { 'X-Key': '{credential:other}' },
      'refers to credential "other", which credential_schema does not declare',
    ],
    ['https://example.com/mcp', { 'X-Key': 'a\r\nInjected: 1' }, 'must not hold a line break'],
    ['https://example.com/mcp', { 'X-Key': 3 }, 'remote.headers.X-Key must be a string'],
  ])('refuses %s with headers %j', (url, headers, problem) => {
    const problems = checkRemoteTemplate(
      { url, headers: headers as Record<string, string> },
      config,
      credentials,
    );
    expect(problems.join('\n')).toContain(problem);
  });

  it('refuses headers that are not an object', () => {
    expect(
      checkRemoteTemplate(
        { url: 'https://example.com/mcp', headers: [] as unknown as Record<string, string> },
        config,
        credentials,
      ),
    ).toEqual(['remote.headers must be an object of header names to values']);
  });
});

describe('resolveRemoteUrl', () => {
  it('fills the host part as is and encodes path and query values', () => {
    expect(
      resolveRemoteUrl('https://{host}:{port}/t/{tenant}/mcp?t={tenant}', {
        host: 'mcp.internal',
        port: 8443,
        tenant: 'a/b?c#d',
      }).href,
    ).toBe('https://mcp.internal:8443/t/a%2Fb%3Fc%23d/mcp?t=a%2Fb%3Fc%23d');
  });

  it('never lets a value change the host: a host value must be a host name, an IP or a port', () => {
    expect(() => resolveRemoteUrl('https://{host}/mcp', { host: 'evil.com/x@' })).toThrow(
      "config.host goes into the remote URL's host",
    );
    expect(resolveRemoteUrl('https://example.com/{tenant}', { tenant: '@evil.com' }).host).toBe(
      'example.com',
    );
  });

  it('names a missing value', () => {
    expect(() => resolveRemoteUrl('https://example.com/{tenant}', {})).toThrow(
      new RemoteTemplateError(
        'The remote URL needs the config value "tenant"; set it in the connection\'s config.',
      ),
    );
  });

  it('refuses a result that is not http(s)', () => {
    expect(() => resolveRemoteUrl('https://{host}/', { host: '[' })).toThrow(RemoteTemplateError);
  });
});

describe('resolveRemoteHeaders', () => {
  it('fills credentials and config values', () => {
    expect(
      resolveRemoteHeaders(
        { Authorization: 'Bearer {credential:token}', 'X-Tenant': 'tenant-{tenant}' },
        { tenant: 'acme' },
        { token: 's3cret' },
      ),
    ).toEqual({ Authorization: 'Bearer s3cret', 'X-Tenant': 'tenant-acme' });
  });

  it('names a missing credential and never shows a value that cannot travel', () => {
    expect(() => resolveRemoteHeaders({ A: '{credential:token}' }, {}, {})).toThrow(
      'The remote header A needs the credential "token"',
    );
    let message = '';
    try {
      resolveRemoteHeaders({ A: '{credential:token}' }, {}, { token: 'zq9\nxv7' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('cannot be sent in the header A: it holds a line break');
    expect(message).not.toMatch(/zq9|xv7/);
  });
});
