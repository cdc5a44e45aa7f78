/** Latency figures of a list of samples in milliseconds. */
export function summarize(samples: number[]): {
  p50: number;
  p99: number;
  mean: number;
  n: number;
} {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return {
    p50: at(0.5),
    p99: at(0.99),
    mean: samples.reduce((a, b) => a + b, 0) / samples.length,
    n: samples.length,
  };
}

/** A figure with a fixed number of decimals, and the same with its sign (a difference). */
export const fixed = (value: number, digits = 2) => value.toFixed(digits);
export const signed = (value: number, digits = 2) =>
  `${value >= 0 ? '+' : ''}${value.toFixed(digits)}`;

export function formatMs(value: number): string {
  return `${value.toFixed(2)} ms`;
}

export async function timeSequential(
  count: number,
  call: () => Promise<unknown>,
): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return samples;
}
