const MIN_SECRET_LENGTH = 4;
export const MASK = '[secret]';

/**
 * Replaces every occurrence of a connection's secret values in a line of output: the values
 * themselves, and for JSON values every string inside them (a token in an OAuth blob), longest
 * first so a value that contains another is masked whole.
 */
export class SecretMasker {
  private readonly secrets: string[];

  constructor(values: Iterable<string>) {
    const all = new Set<string>();
    for (const value of values) {
      if (value.length >= MIN_SECRET_LENGTH) all.add(value);
      for (const inner of stringsInJson(value))
        if (inner.length >= MIN_SECRET_LENGTH + 4) all.add(inner);
    }
    this.secrets = [...all].sort((a, b) => b.length - a.length);
  }

  /** The values masked (for combining maskers). */
  values(): string[] {
    return [...this.secrets];
  }

  mask(line: string): string {
    let out = line;
    for (const secret of this.secrets) {
      if (out.includes(secret)) out = out.split(secret).join(MASK);
    }
    return out;
  }
}

function stringsInJson(value: string): string[] {
  if (!value.startsWith('{') && !value.startsWith('[')) return [];
  try {
    const found: string[] = [];
    const walk = (node: unknown) => {
      if (typeof node === 'string') found.push(node);
      else if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') Object.values(node).forEach(walk);
    };
    walk(JSON.parse(value));
    return found;
  } catch {
    return [];
  }
}
