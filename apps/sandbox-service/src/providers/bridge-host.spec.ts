import type { NetworkInterfaceInfo } from 'node:os';
import { resolvePublicUrl } from './bridge-host';

const iface = (address: string, internal: boolean, family: 'IPv4' | 'IPv6' = 'IPv4') =>
  ({ address, internal, family }) as NetworkInterfaceInfo;

describe("the public URL of a replica's bridges", () => {
  const interfaces = {
    lo: [iface('127.0.0.1', true)],
    eth0: [iface('fe80::1', false, 'IPv6'), iface('172.18.0.5', false)],
  };

  it('fills {ip}, {hostname} and {port}', () => {
    expect(resolvePublicUrl('http://{ip}:7700', 7700, interfaces, 'c0ffee')).toBe(
      'http://172.18.0.5:7700',
    );
    expect(resolvePublicUrl('http://{hostname}:{port}', 41234, interfaces, 'c0ffee')).toBe(
      'http://c0ffee:41234',
    );
    expect(resolvePublicUrl('http://sandbox-service:3100', 3100, interfaces, 'x')).toBe(
      'http://sandbox-service:3100',
    );
  });

  it('says so when {ip} has nothing to stand for', () => {
    expect(() => resolvePublicUrl('http://{ip}:1', 1, { lo: interfaces.lo }, 'x')).toThrow(
      /no IPv4 address other than loopback/,
    );
  });
});
