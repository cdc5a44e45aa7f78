import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EnvError, type NodeEnv } from './env';

/** Secrets every deployment needs; generated once for development, required in production. */
export const PLATFORM_SECRET_NAMES = [
  'SERVICE_ROLE_KEY',
  'CREDENTIAL_KEYS',
  'INTERNAL_SECRET',
] as const;
export type PlatformSecretName = (typeof PLATFORM_SECRET_NAMES)[number];
export type PlatformSecrets = Record<PlatformSecretName, string>;

const CREDENTIAL_KEYS_PATTERN =
  /^v[1-9][0-9]{0,5}:[A-Za-z0-9+/]{43}=(,v[1-9][0-9]{0,5}:[A-Za-z0-9+/]{43}=)*$/;

const RULES: Record<PlatformSecretName, { test: (v: string) => boolean; hint: string }> = {
  SERVICE_ROLE_KEY: {
    test: (v) => v.length >= 32 && !/\s/.test(v),
    hint: 'at least 32 characters, no spaces',
  },
  CREDENTIAL_KEYS: {
    test: (v) => CREDENTIAL_KEYS_PATTERN.test(v),
    hint: 'a comma-separated list of v<N>:<base64 of 32 bytes>, e.g. v1:<key>,v2:<key>',
  },
  INTERNAL_SECRET: {
    test: (v) => v.length >= 32 && !/\s/.test(v),
    hint: 'at least 32 characters, no spaces',
  },
};

export interface ResolvedSecrets<N extends PlatformSecretName> {
  secrets: Pick<PlatformSecrets, N>;
  /** The development file the values came from, when any did. */
  file?: string;
}

/**
 * Takes each secret from the environment; outside production, a missing one comes from a file
 * readable only by the platform's user, generated on first use and reused after restarts.
 */
export function resolvePlatformSecrets<N extends PlatformSecretName>(options: {
  /** The secrets this service needs; each service gets only those. */
  names: readonly N[];
  nodeEnv: NodeEnv;
  file: string;
  provided: Partial<Record<PlatformSecretName, string | undefined>>;
}): ResolvedSecrets<N> {
  const missing = options.names.filter((name) => !options.provided[name]);
  if (missing.length > 0 && options.nodeEnv === 'production') {
    throw new EnvError(`Invalid environment: ${missing.join(', ')} must be set in production`);
  }
  const generated = missing.length > 0 ? readOrCreateSecretsFile(options.file) : undefined;
  const secrets = {} as Pick<PlatformSecrets, N>;
  for (const name of options.names) {
    const fromEnv = options.provided[name];
    const value = fromEnv || generated?.[name];
    const source = fromEnv ? 'the environment' : options.file;
    if (!value || !RULES[name].test(value)) {
      throw new EnvError(
        `Invalid environment: ${name} (from ${source}) must be ${RULES[name].hint}`,
      );
    }
    secrets[name] = value;
  }
  return { secrets, file: generated ? options.file : undefined };
}

function generate(): PlatformSecrets {
  return {
    SERVICE_ROLE_KEY: `sk_service_${randomBytes(32).toString('base64url')}`,
    CREDENTIAL_KEYS: `v1:${randomBytes(32).toString('base64')}`,
    INTERNAL_SECRET: randomBytes(32).toString('base64url'),
  };
}

function readOrCreateSecretsFile(file: string): PlatformSecrets {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Write aside, then link into place: the file appears whole or not at all, and when several
    // services start together exactly one of them creates it.
    const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(temp, `${JSON.stringify(generate(), null, 2)}\n`, { mode: 0o600 });
    try {
      fs.linkSync(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.unlinkSync(temp);
    }
  }
  const mode = fs.statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new EnvError(
      `Secrets file ${file} is readable by other users (mode ${mode.toString(8)}); run chmod 600 on it`,
    );
  }
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PlatformSecrets;
  } catch {
    throw new EnvError(
      `Secrets file ${file} is not valid JSON; delete it to generate new development secrets`,
    );
  }
}
