/** A line longer than the reader's bound: how long it was and the ends that were kept of it. */
export interface OverlongLine {
  /** The whole line's length in bytes (its newline not counted). */
  bytes: number;
  /** Its first bytes, up to `keepHeadBytes`, cut back to a whole UTF-8 character. */
  head: Buffer;
  /** Its last bytes, up to `keepTailBytes`, starting at a whole UTF-8 character. */
  tail: Buffer;
}

export interface LineReaderOptions {
  /** The longest line kept whole, in bytes (its newline and a trailing CR not counted). */
  maxLineBytes: number;
  /** Of a longer line, how many of its first bytes to keep (at most `maxLineBytes`). */
  keepHeadBytes: number;
  /** Of a longer line, how many of its last bytes to keep. */
  keepTailBytes: number;
  /** Each non-empty line within the bound, decoded as UTF-8, without its line ending. */
  onLine: (line: string) => void;
  /** Each line past the bound, once its newline (or the end) arrives. */
  onOverlong: (line: OverlongLine) => void;
}

const NEWLINE = 0x0a;
const CR = '\r';

/**
 * Splits a byte stream into newline-delimited lines in linear time: each chunk is scanned once,
 * from where the last scan stopped, and a line's pieces are joined once, at its newline. A line
 * past `maxLineBytes` is never held whole: from the moment it crosses the bound only its first
 * `keepHeadBytes` and last `keepTailBytes` are kept while the rest streams past.
 */
export class LineReader {
  /** The current line's pieces (views of the chunks they came in), while within the bound. */
  private pieces: Buffer[] = [];
  private held = 0;
  private overlong: { bytes: number; head: Buffer; tail: Buffer[]; tailBytes: number } | undefined;
  private scanned = 0;

  constructor(private readonly options: LineReaderOptions) {
    if (options.keepHeadBytes > options.maxLineBytes)
      throw new RangeError('keepHeadBytes cannot exceed maxLineBytes');
  }

  /** Bytes of the current, unfinished line kept in memory (never past the bound plus the kept tail). */
  get heldBytes(): number {
    return this.overlong ? this.overlong.head.length + this.overlong.tailBytes : this.held;
  }

  /** Bytes looked at by the newline scan so far: equal to the bytes pushed, each looked at once. */
  get scannedBytes(): number {
    return this.scanned;
  }

  push(chunk: Buffer | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    let start = 0;
    while (start < data.length) {
      const newline = data.indexOf(NEWLINE, start);
      const end = newline < 0 ? data.length : newline;
      this.scanned += (newline < 0 ? data.length : newline + 1) - start;
      this.take(data, start, end);
      if (newline < 0) return;
      this.finishLine();
      start = newline + 1;
    }
  }

  /** The stream ended: whatever follows the last newline is a line too. */
  end(): void {
    this.finishLine(true);
  }

  private take(data: Buffer, start: number, end: number): void {
    if (end === start) return;
    if (this.overlong) return this.discard(data, start, end);
    const length = end - start;
    if (this.held + length <= this.options.maxLineBytes) {
      this.pieces.push(data.subarray(start, end));
      this.held += length;
      return;
    }
    // The line crosses the bound: keep its head and the tail seen so far, let go of the rest.
    const pieces = [...this.pieces, data.subarray(start, end)];
    const head = Buffer.concat(pieces, Math.min(this.options.keepHeadBytes, this.held + length));
    this.overlong = { bytes: 0, head, tail: [], tailBytes: 0 };
    this.pieces = [];
    this.held = 0;
    for (const piece of pieces) this.discard(piece, 0, piece.length);
  }

  private discard(data: Buffer, start: number, end: number): void {
    const line = this.overlong!;
    const keep = this.options.keepTailBytes;
    line.bytes += end - start;
    if (keep === 0) return;
    if (end - start >= keep) {
      // Copied, so that the kept tail does not pin the whole chunk in memory.
      line.tail = [Buffer.from(data.subarray(end - keep, end))];
      line.tailBytes = keep;
      return;
    }
    line.tail.push(Buffer.from(data.subarray(start, end)));
    line.tailBytes += end - start;
    while (line.tailBytes - line.tail[0].length >= keep)
      line.tailBytes -= line.tail.shift()!.length;
  }

  private finishLine(atEnd = false): void {
    const { overlong, pieces, held } = this;
    this.pieces = [];
    this.held = 0;
    this.overlong = undefined;
    if (overlong) {
      const tail = Buffer.concat(overlong.tail, overlong.tailBytes);
      this.options.onOverlong({
        bytes: overlong.bytes,
        head: wholeCharsAtEnd(overlong.head),
        tail: wholeCharsAtStart(
          tail.subarray(Math.max(0, tail.length - this.options.keepTailBytes)),
        ),
      });
      return;
    }
    if (held === 0) return;
    let line = (pieces.length === 1 ? pieces[0] : Buffer.concat(pieces, held)).toString('utf8');
    if (line.endsWith(CR)) line = line.slice(0, -1);
    if (atEnd ? line.trim() : line) this.options.onLine(line);
  }
}

/** `bytes` without a UTF-8 character cut off at its end. */
export function wholeCharsAtEnd(bytes: Buffer): Buffer {
  let lead = bytes.length - 1;
  while (lead >= 0 && bytes.length - lead < 4 && (bytes[lead] & 0xc0) === 0x80) lead--;
  if (lead < 0) return bytes;
  const byte = bytes[lead];
  const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
  return bytes.length - lead < size ? bytes.subarray(0, lead) : bytes;
}

/** `bytes` without the continuation of a UTF-8 character cut off at its start. */
export function wholeCharsAtStart(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length && start < 3 && (bytes[start] & 0xc0) === 0x80) start++;
  return bytes.subarray(start);
}
