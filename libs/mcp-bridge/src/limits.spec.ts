import {
  BridgeLimitError,
  DEFAULT_LIMITS,
  formatBytes,
  MAX_LINE_BYTES_CEILING,
  MAX_LINE_BYTES_ENV,
  positiveIntegerFromEnv,
  resolveLimits,
} from './limits';

function thrown(work: () => unknown): BridgeLimitError {
  try {
    work();
  } catch (error) {
    if (error instanceof BridgeLimitError) return error;
    throw error;
  }
  throw new Error('nothing was thrown');
}

describe('bridge limits', () => {
  it('has the documented defaults', () => {
    expect(DEFAULT_LIMITS).toEqual({
      maxLineBytes: 8 * 1024 * 1024,
      maxSessions: 64,
      sessionIdleMs: 30 * 60 * 1000,
      sseIdleMs: 5 * 60 * 1000,
      sseHeartbeatMs: 25_000,
      maxSseBufferedBytes: 4 * 1024 * 1024,
      maxBatchMessages: 50,
      serverRequestTimeoutMs: 55_000,
    });
  });

  it('takes the given limits over the defaults and refuses what is not a positive integer', () => {
    expect(resolveLimits({ maxSessions: 3, maxLineBytes: undefined })).toEqual({
      ...DEFAULT_LIMITS,
      maxSessions: 3,
    });
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const error = thrown(() => resolveLimits({ maxBatchMessages: bad }));
      expect(error.code).toBe('ERR_BRIDGE_LIMIT');
      expect(error.option).toBe('maxBatchMessages');
    }
    expect(thrown(() => resolveLimits({ maxLineBytes: MAX_LINE_BYTES_CEILING + 1 })).option).toBe(
      'maxLineBytes',
    );
  });

  it(`reads ${MAX_LINE_BYTES_ENV} as a positive integer, or not at all`, () => {
    expect(positiveIntegerFromEnv({}, MAX_LINE_BYTES_ENV)).toBeUndefined();
    expect(
      positiveIntegerFromEnv({ [MAX_LINE_BYTES_ENV]: '' }, MAX_LINE_BYTES_ENV),
    ).toBeUndefined();
    expect(positiveIntegerFromEnv({ [MAX_LINE_BYTES_ENV]: ' 1048576 ' }, MAX_LINE_BYTES_ENV)).toBe(
      1048576,
    );
    for (const bad of ['0', '-5', '1.5', '8MiB', '1e6', 'abc', '99999999999999999999']) {
      const error = thrown(() =>
        positiveIntegerFromEnv({ [MAX_LINE_BYTES_ENV]: bad }, MAX_LINE_BYTES_ENV),
      );
      expect(error.code).toBe('ERR_BRIDGE_LIMIT');
      expect(error.option).toBe(MAX_LINE_BYTES_ENV);
      expect(error.message).toContain(MAX_LINE_BYTES_ENV);
    }
    const over = thrown(() =>
      positiveIntegerFromEnv(
        { N: String(MAX_LINE_BYTES_CEILING + 1) },
        'N',
        MAX_LINE_BYTES_CEILING,
      ),
    );
    expect(over.option).toBe('N');
  });

  it('names sizes for people', () => {
    expect(formatBytes(8 * 1024 * 1024)).toBe('8 MiB');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(100)).toBe('100 bytes');
  });
});
