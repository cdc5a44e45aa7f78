/** A versioned master key: wraps data keys, never encrypts credentials itself. */
export interface MasterKey {
  version: number;
  key: Buffer;
}

export class KeyringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyringError';
  }
}

/**
 * The master keys from CREDENTIAL_KEYS (`v1:<base64>,v2:<base64>`) and which one is current
 * (CREDENTIAL_KEY_CURRENT, default the highest). Old versions keep decrypting until retired.
 */
export class Keyring {
  private readonly keys: Map<number, MasterKey>;
  readonly current: MasterKey;

  constructor(keys: MasterKey[], currentVersion?: number) {
    if (keys.length === 0) throw new KeyringError('CREDENTIAL_KEYS holds no key');
    this.keys = new Map();
    for (const key of keys) {
      if (key.key.length !== 32)
        throw new KeyringError(
          `CREDENTIAL_KEYS v${key.version} must be 32 bytes (base64 of 32 random bytes)`,
        );
      if (this.keys.has(key.version))
        throw new KeyringError(`CREDENTIAL_KEYS names v${key.version} twice`);
      this.keys.set(key.version, key);
    }
    const version = currentVersion ?? Math.max(...this.keys.keys());
    const current = this.keys.get(version);
    if (!current)
      throw new KeyringError(
        `CREDENTIAL_KEY_CURRENT is v${version}, which CREDENTIAL_KEYS does not hold`,
      );
    this.current = current;
  }

  static parse(spec: string, currentVersion?: number): Keyring {
    const keys = spec.split(',').map((part) => {
      const match = /^v([1-9][0-9]{0,5}):([A-Za-z0-9+/]+={0,2})$/.exec(part.trim());
      if (!match)
        throw new KeyringError(
          'CREDENTIAL_KEYS must be a comma-separated list of v<N>:<base64 of 32 bytes>',
        );
      return { version: Number(match[1]), key: Buffer.from(match[2], 'base64') };
    });
    return new Keyring(keys, currentVersion);
  }

  get(version: number): MasterKey {
    const key = this.keys.get(version);
    if (!key)
      throw new KeyringError(
        `Master key v${version} is not in CREDENTIAL_KEYS; data wrapped by it cannot be read`,
      );
    return key;
  }

  has(version: number): boolean {
    return this.keys.has(version);
  }

  versions(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }
}
