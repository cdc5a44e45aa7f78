import { LineReader, type OverlongLine } from './line-reader';

const KiB = 1024;
const MiB = 1024 * KiB;

function reader(maxLineBytes: number, keepHeadBytes = KiB, keepTailBytes = KiB) {
  const lines: string[] = [];
  const overlong: OverlongLine[] = [];
  const r = new LineReader({
    maxLineBytes,
    keepHeadBytes,
    keepTailBytes,
    onLine: (line) => lines.push(line),
    onOverlong: (line) => overlong.push(line),
  });
  return { r, lines, overlong };
}

/** Pushes `total` bytes of `fill` in `chunk`-sized pieces, calling `each` after every push. */
function stream(r: LineReader, total: number, chunk: number, fill: number, each: () => void) {
  const piece = Buffer.alloc(chunk, fill);
  for (let sent = 0; sent < total; sent += chunk) {
    r.push(sent + chunk <= total ? piece : piece.subarray(0, total - sent));
    each();
  }
}

describe('LineReader', () => {
  it('splits lines across chunks, drops empty ones and trailing CRs, and flushes the last at the end', () => {
    const { r, lines } = reader(MiB);
    r.push('{"a":1}\n\npart');
    r.push('ial\r\nnext');
    r.push(Buffer.from('\nlast one'));
    expect(lines).toEqual(['{"a":1}', 'partial', 'next']);
    r.end();
    expect(lines).toEqual(['{"a":1}', 'partial', 'next', 'last one']);
  });

  it('joins a UTF-8 character split between two chunks', () => {
    const { r, lines } = reader(MiB);
    const bytes = Buffer.from('héllo ✓\n', 'utf8');
    const cut = bytes.indexOf(0xa9); // between the two bytes of "é" (c3 a9)
    r.push(bytes.subarray(0, cut));
    r.push(bytes.subarray(cut));
    expect(lines).toEqual(['héllo ✓']);
  });

  it('looks at each byte once: a 40 MB line in 64 KiB chunks costs 40 MB of scanning', () => {
    const { r, overlong } = reader(8 * MiB);
    const total = 40 * 1000 * 1000;
    let maxHeld = 0;
    r.push('{"result":"');
    stream(r, total, 64 * KiB, 0x78 /* x */, () => (maxHeld = Math.max(maxHeld, r.heldBytes)));
    r.push('","jsonrpc":"2.0","id":7}\n');
    const pushed = '{"result":"'.length + total + '","jsonrpc":"2.0","id":7}\n'.length;
    expect(r.scannedBytes).toBe(pushed);
    // The line was never held whole: at most the bound, and after it only its two ends.
    expect(maxHeld).toBeLessThanOrEqual(8 * MiB);
    expect(r.heldBytes).toBe(0);
    expect(overlong).toHaveLength(1);
    expect(overlong[0].bytes).toBe(pushed - 1);
    expect(overlong[0].head.toString()).toBe(`{"result":"${'x'.repeat(KiB - 11)}`);
    expect(overlong[0].tail.toString()).toMatch(/x+","jsonrpc":"2.0","id":7}$/);
    expect(overlong[0].tail.length).toBe(KiB);
  });

  it('holds only the two ends of an overlong line once it crosses the bound', () => {
    const { r, overlong } = reader(MiB);
    const held: number[] = [];
    stream(r, 5 * MiB, 64 * KiB, 0x61, () => held.push(r.heldBytes));
    expect(Math.max(...held)).toBeLessThanOrEqual(MiB);
    expect(held.slice(20)).toEqual(held.slice(20).map(() => 2 * KiB));
    r.push('\n');
    expect(overlong.map((o) => o.bytes)).toEqual([5 * MiB]);
  });

  it('keeps a line of exactly the bound, and scans many short lines in one pass', () => {
    const { r, lines, overlong } = reader(64 * KiB);
    stream(r, 64 * KiB, 1000, 0x62, () => undefined);
    r.push('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0].length).toBe(64 * KiB);
    expect(overlong).toHaveLength(0);
    const many = Buffer.from('{"id":1}\n'.repeat(10_000));
    r.push(many);
    expect(lines).toHaveLength(10_001);
    expect(r.scannedBytes).toBe(64 * KiB + 1 + many.length);
  });

  it('cuts the kept head back to a whole character, and tells an overlong last line at the end', () => {
    const { r, overlong } = reader(8, 8, 0);
    r.push(Buffer.from('abcdefg✓✓✓', 'utf8'));
    r.end();
    expect(overlong).toHaveLength(1);
    expect(overlong[0].head.toString('utf8')).toBe('abcdefg');
    expect(overlong[0].bytes).toBe(16);
    expect(overlong[0].tail.length).toBe(0);
  });

  it('refuses to keep a head longer than the bound', () => {
    expect(() => reader(10, 11)).toThrow(RangeError);
  });
});
