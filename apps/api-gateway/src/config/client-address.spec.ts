import type { IncomingMessage } from 'node:http';
import { clientAddressOf, loadConfig } from './env';

const request = (remoteAddress: string, forwarded?: string) =>
  ({
    socket: { remoteAddress },
    connection: { remoteAddress },
    headers: forwarded ? { 'x-forwarded-for': forwarded } : {},
  }) as unknown as IncomingMessage;

describe('the client address behind proxies (TRUSTED_PROXIES)', () => {
  it('is the socket address when no proxy is trusted, whatever X-Forwarded-For says', () => {
    const address = clientAddressOf(undefined);
    expect(address(request('203.0.113.9', '198.51.100.1'))).toBe('203.0.113.9');
  });

  it('is the nearest forwarded address a trusted proxy vouches for, never a spoofed one further out', () => {
    const address = clientAddressOf('uniquelocal');
    // The load balancer (172.18.0.2) forwards a client it saw; what that client claims is ignored.
    expect(address(request('172.18.0.2', '10.9.9.9, 198.51.100.7'))).toBe('198.51.100.7');
    // A client reaching the gateway directly cannot claim another address.
    expect(address(request('198.51.100.7', '203.0.113.1'))).toBe('198.51.100.7');
  });

  it('refuses a trust list it cannot read, naming the variable', () => {
    expect(() => loadConfig({ NODE_ENV: 'test', TRUSTED_PROXIES: 'not-an-address' })).toThrow(
      /TRUSTED_PROXIES: .*not-an-address/,
    );
  });
});
