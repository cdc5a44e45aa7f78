import {
  type EgressTarget,
  REFUSED_IPV4_BLOCKS as REFUSED_IPV4,
  parseAllowPrivate,
  refusedRange,
} from '@athenic/egress';
import { REFUSED_DENY_OUT, egressOptions, egressUpdate } from './e2b-egress';

const target = (host: string, port = 443): EgressTarget => ({ field: 'config.url', host, port });
const cidrOf = (text: string) => {
  const [network, prefix] = text.split('/');
  return { network, prefix: Number(prefix) };
};
const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
const numeric = (ip: string) => ip.split('.').reduce((n, b) => n * 256 + Number(b), 0);
/** The [first, last] addresses of each block, as numbers. */
const spans = (list: readonly string[]) =>
  list.map((entry) => {
    const { network, prefix } = cidrOf(entry);
    const first = numeric(network);
    return [first, first + 2 ** (32 - prefix) - 1];
  });
const inSpans = (ip: number, list: number[][]) => list.some(([a, b]) => ip >= a && ip <= b);

describe('egressOptions (E2B)', () => {
  it('lets nothing out without declared egress or targets', () => {
    expect(egressOptions([], [], parseAllowPrivate('10.0.0.0/8'))).toEqual({
      allowInternetAccess: false,
    });
  });

  it('opens a `*` type to the public internet, every refused range denied but the opened ones', () => {
    const options = egressOptions(
      ['*'],
      [target('api.example.com'), target('8.8.8.8')],
      parseAllowPrivate('10.1.0.0/16, 10.1.2.3:5432, db.internal:5432, [fd00::/8]:5432'),
    );
    expect(options).toEqual({
      allowInternetAccess: true,
      // 10.1.2.3 is inside 10.1.0.0/16; names and IPv6 cannot be expressed.
      network: { allowOut: ['10.1.0.0/16'], denyOut: [...REFUSED_DENY_OUT] },
    });
    for (const range of ['169.254.0.0/16', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8'])
      expect(options.network?.denyOut).toContain(range);
    // Targets are public hosts, allowed already: a name in allowOut would escape denyOut.
    expect(egressOptions(['*'], [target('api.example.com')], [])).toEqual({
      allowInternetAccess: true,
      network: { denyOut: [...REFUSED_DENY_OUT] },
    });
  });

  it('denies every refused IPv4 address and no public one', () => {
    // Each listed range is refused by @athenic/egress, at both ends.
    spans(REFUSED_IPV4).forEach(([first, last], i) => {
      expect([REFUSED_IPV4[i], refusedRange(dotted(first))]).not.toEqual([REFUSED_IPV4[i], null]);
      expect([REFUSED_IPV4[i], refusedRange(dotted(last))]).not.toEqual([REFUSED_IPV4[i], null]);
    });
    // And what @athenic/egress refuses is denied: the first address of every /16 (ranges of /16
    // or more are whole /16s) and addresses of the smaller ranges.
    const denied = spans(REFUSED_DENY_OUT);
    const probes = ['192.0.0.7', '192.0.2.1', '198.51.100.9', '203.0.113.200', '0.0.0.1'].map(
      numeric,
    );
    for (let block = 0; block < 65536; block++) probes.push(block * 65536);
    const disagree = probes
      .filter((ip) => ip !== 0 && (refusedRange(dotted(ip)) !== null) !== inSpans(ip, denied))
      .map(dotted);
    expect(disagree).toEqual([]);
    // E2B refuses a deny entry on 0.0.0.0 (but 0.0.0.0/0): 0.0.0.0/8 goes as the blocks after it.
    expect(REFUSED_DENY_OUT.filter((e) => e.startsWith('0.0.0.0/'))).toEqual([]);
    expect(REFUSED_DENY_OUT).toContain('0.0.0.1/32');
    expect(REFUSED_DENY_OUT).toContain('0.128.0.0/9');
  });

  it('allows named hosts and targets only, ports dropped, refused literals only when opened', () => {
    const openings = parseAllowPrivate('10.0.0.5:5432, 100.64.0.0/10');
    const options = egressOptions(
      ['api.github.com:443', '*.githubusercontent.com'],
      [
        target('DB.Example.com.', 5432),
        target('93.184.216.34'),
        target('10.0.0.5', 5432),
        target('10.0.0.6', 5432),
        target('169.254.169.254', 80),
        target('100.64.1.1', 80),
        target('::ffff:8.8.4.4'),
        target('2001:4860:4860::8888'),
      ],
      openings,
    );
    expect(options).toEqual({
      network: {
        allowOut: [
          'api.github.com',
          '*.githubusercontent.com',
          'db.example.com',
          '93.184.216.34/32',
          '10.0.0.5/32',
          '100.64.1.1/32',
          '8.8.4.4/32',
        ],
        denyOut: ['0.0.0.0/0'],
      },
    });
    // An opening is no grant by itself: the opened range is not in allowOut.
    expect(options.network?.allowOut).not.toContain('100.64.0.0/10');
    // The opening names port 5432: the same address on another port stays out.
    expect(egressOptions([], [target('10.0.0.5', 22)], openings)).toEqual({
      allowInternetAccess: false,
    });
  });

  it('gives a type without egress the targets of its connection', () => {
    expect(egressOptions([], [target('api.example.com')], [])).toEqual({
      network: { allowOut: ['api.example.com'], denyOut: ['0.0.0.0/0'] },
    });
  });

  it('states the same rules as a network update', () => {
    expect(egressUpdate({ allowInternetAccess: false })).toEqual({ allowInternetAccess: false });
    expect(egressUpdate(egressOptions(['a.example'], [], []))).toEqual({
      allowOut: ['a.example'],
      denyOut: ['0.0.0.0/0'],
    });
    expect(egressUpdate(egressOptions(['*'], [], []))).toEqual({
      allowInternetAccess: true,
      denyOut: [...REFUSED_DENY_OUT],
    });
  });
});
