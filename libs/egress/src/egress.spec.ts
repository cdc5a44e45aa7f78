import {
  EgressConfigError,
  EgressGuard,
  egressTargets,
  hostsOf,
  parseAllowPrivate,
  parseEgressPattern,
  patternAllows,
  refusedRange,
} from './index';

describe('refusedRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.20.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['fd12:3456::1', 'unique local'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['not-an-ip', 'reserved'],
  ])('%s is %s', (ip, range) => {
    expect(refusedRange(ip)).toBe(range);
  });

  it.each(['8.8.8.8', '140.82.112.3', '2606:4700::1111', '::ffff:8.8.8.8'])(
    '%s is public',
    (ip) => {
      expect(refusedRange(ip)).toBeNull();
    },
  );
});

describe('parseAllowPrivate', () => {
  it('reads hosts with ports, IPs, CIDR blocks with and without ports, IPv6 in brackets', () => {
    expect(
      parseAllowPrivate(' db.internal:5432, 10.0.0.0/8, 10.1.2.3:443 ,[fd00::/8]:80, fd00::1'),
    ).toEqual([
      { kind: 'host', host: 'db.internal', port: 5432, text: 'db.internal:5432' },
      { kind: 'cidr', network: '10.0.0.0', prefix: 8, port: null, text: '10.0.0.0/8' },
      { kind: 'cidr', network: '10.1.2.3', prefix: 32, port: 443, text: '10.1.2.3:443' },
      { kind: 'cidr', network: 'fd00::', prefix: 8, port: 80, text: '[fd00::/8]:80' },
      { kind: 'cidr', network: 'fd00::1', prefix: 128, port: null, text: 'fd00::1' },
    ]);
    expect(parseAllowPrivate('')).toEqual([]);
    expect(parseAllowPrivate(undefined)).toEqual([]);
  });

  it.each(['db.internal', '10.0.0.0/33', '10.0.0.1:99999', 'bad host:1', '1.2.3.4/x'])(
    'refuses %s naming it',
    (item) => {
      expect(() => parseAllowPrivate(item)).toThrow(EgressConfigError);
      expect(() => parseAllowPrivate(item)).toThrow(item);
    },
  );
});

describe('declared egress patterns', () => {
  it('matches hosts, subdomains of a suffix, ports and any host', () => {
    const exact = parseEgressPattern('api.github.com');
    expect(patternAllows(exact, 'api.github.com', 443)).toBe(true);
    expect(patternAllows(exact, 'API.GitHub.com.', 80)).toBe(true);
    expect(patternAllows(exact, 'evil-api.github.com', 443)).toBe(false);
    expect(patternAllows(exact, 'api.github.com.evil.net', 443)).toBe(false);
    const suffix = parseEgressPattern('*.atlassian.net:443');
    expect(patternAllows(suffix, 'acme.atlassian.net', 443)).toBe(true);
    expect(patternAllows(suffix, 'acme.atlassian.net', 80)).toBe(false);
    expect(patternAllows(suffix, 'atlassian.net', 443)).toBe(false);
    expect(patternAllows(suffix, 'evilatlassian.net', 443)).toBe(false);
    expect(patternAllows(parseEgressPattern('*'), '203.0.113.9', 5432)).toBe(true);
  });
});

describe('user-given targets', () => {
  it('reads URLs, connection strings, several hosts, query overrides and keyword strings', () => {
    expect(hostsOf('https://api.example.com/v1?x=1')).toEqual([
      { host: 'api.example.com', port: 443 },
    ]);
    expect(hostsOf('http://[::1]:8080/spec.json')).toEqual([{ host: '::1', port: 8080 }]);
    expect(hostsOf('postgresql://u:p@ss@db.example.com/app')).toEqual([
      { host: 'db.example.com', port: 5432 },
    ]);
    expect(hostsOf('postgres://u@h1:5433,h2/app')).toEqual([
      { host: 'h1', port: 5433 },
      { host: 'h2', port: 5432 },
    ]);
    expect(hostsOf('postgresql://u@8.8.8.8/db?host=127.0.0.1')).toEqual([
      { host: '8.8.8.8', port: 5432 },
      { host: '127.0.0.1', port: 5432 },
    ]);
    expect(hostsOf('host=10.0.0.5 port=6543 dbname=x')).toEqual([{ host: '10.0.0.5', port: 6543 }]);
    expect(hostsOf('http://0x7f.1/')).toEqual([{ host: '127.0.0.1', port: 80 }]);
    expect(hostsOf('http://2130706433/')).toEqual([{ host: '127.0.0.1', port: 80 }]);
    expect(() => hostsOf('just text')).toThrow('is not a URL');
    expect(() => hostsOf('gopher://x/')).toThrow('no default');
  });

  it('takes the fields a schema marks as targets, naming them', () => {
    const schema = {
      properties: {
        api_base_url: { type: 'string', 'x-egress-target': true },
        label: { type: 'string' },
      },
    };
    expect(
      egressTargets(schema, { api_base_url: 'http://10.0.0.1:81', label: 'http://x' }, 'config'),
    ).toEqual([{ field: 'config.api_base_url', host: '10.0.0.1', port: 81 }]);
    expect(() => egressTargets(schema, { api_base_url: 'nope' }, 'config')).toThrow(
      'config.api_base_url is not a URL',
    );
  });

  it("reads a bare host with the port its port field holds, or that field's default", () => {
    const schema = {
      properties: {
        imap_host: { type: 'string', 'x-egress-target': true, 'x-egress-port': 'imap_port' },
        imap_port: { type: 'integer', default: 993 },
        smtp_host: { type: 'string', 'x-egress-target': true, 'x-egress-port': 'smtp_port' },
        smtp_port: { type: 'integer' },
      },
    };
    expect(
      egressTargets(
        schema,
        { imap_host: 'Mail.Example.com', smtp_host: '[fd00::1]', smtp_port: '587' },
        'config',
      ),
    ).toEqual([
      { field: 'config.imap_host', host: 'mail.example.com', port: 993 },
      { field: 'config.smtp_host', host: 'fd00::1', port: 587 },
    ]);
    // The host checked must be the host used: no scheme, credentials, port or path in it.
    for (const host of ['imap://x', 'u@x', 'x:25', 'x/y', 'a..b', 'x y', '-x'])
      expect(() => egressTargets(schema, { imap_host: host }, 'config')).toThrow(
        'config.imap_host is not a host name or IP address',
      );
    expect(() => egressTargets(schema, { smtp_host: 'smtp.example.com' }, 'config')).toThrow(
      'config.smtp_host has no port (smtp_port',
    );
    expect(() =>
      egressTargets(schema, { smtp_host: 'smtp.example.com', smtp_port: 70000 }, 'config'),
    ).toThrow('has no port');
  });
});

describe('EgressGuard', () => {
  const names: Record<string, string[]> = {
    'public.example': ['93.184.216.34'],
    'rebind.example': ['127.0.0.1'],
    'mixed.example': ['10.0.0.9', '93.184.216.35'],
    'db.internal': ['10.20.0.5'],
  };
  const lookup = async (host: string) => {
    if (!names[host]) throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    return names[host];
  };

  it('allows public addresses and refuses names that resolve to loopback (no DNS rebinding)', async () => {
    const guard = new EgressGuard({ openings: [], lookup, includeHostAddresses: false });
    expect(await guard.decide('public.example', 443)).toEqual({
      allowed: true,
      addresses: ['93.184.216.34'],
    });
    expect(await guard.decide('rebind.example', 5432)).toEqual({
      allowed: false,
      reason:
        'rebind.example resolves to 127.0.0.1 is a loopback address (open it with EGRESS_ALLOW_PRIVATE)',
    });
    expect(await guard.decide('mixed.example', 80)).toEqual({
      allowed: true,
      addresses: ['93.184.216.35'],
    });
    expect(await guard.decide('[::1]', 80)).toMatchObject({ allowed: false });
    expect(await guard.decide('nowhere.example', 80)).toEqual({
      allowed: false,
      reason: 'nowhere.example could not be resolved (ENOTFOUND)',
      unresolved: true,
    });
  });

  it('opens what EGRESS_ALLOW_PRIVATE names, and the platform listeners only with a port', async () => {
    const guard = new EgressGuard({
      openings: parseAllowPrivate('db.internal:5432,127.0.0.0/8,10.9.0.0/16:8080'),
      ownListeners: [{ ip: '127.0.0.1', port: 5432 }, { ip: '10.9.0.1' }],
      lookup,
      includeHostAddresses: false,
    });
    expect(await guard.decide('db.internal', 5432)).toMatchObject({ allowed: true });
    expect(await guard.decide('db.internal', 5433)).toMatchObject({ allowed: false });
    expect(await guard.decide('127.0.0.1', 9999)).toMatchObject({ allowed: true });
    expect(await guard.decide('127.0.0.1', 5432)).toEqual({
      allowed: false,
      reason:
        "127.0.0.1:5432 is an address of the platform's own host (only an EGRESS_ALLOW_PRIVATE entry naming this port opens it)",
    });
    expect(await guard.decide('10.9.0.1', 8080)).toMatchObject({ allowed: true });
    expect(await guard.decide('10.9.0.2', 8081)).toMatchObject({ allowed: false });
  });

  it("counts this host's interface addresses as the platform's own", async () => {
    const guard = new EgressGuard({ openings: parseAllowPrivate('127.0.0.0/8'), lookup });
    expect(await guard.decide('127.0.0.1', 80)).toMatchObject({ allowed: false });
    const opened = new EgressGuard({ openings: parseAllowPrivate('127.0.0.1:80'), lookup });
    expect(await opened.decide('127.0.0.1', 80)).toMatchObject({ allowed: true });
  });
});
