import { parseAllowPrivate } from '@athenic/egress';
import { plainToInstance } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  validateSync,
  type ValidationError,
} from 'class-validator';

export class EnvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnvError';
  }
}

type Class<T> = new () => T;

/**
 * Validates an environment against a class of class-validator rules. Defaults are the class's
 * property initialisers. The error names every bad variable and what it must be; the value is
 * never echoed, since it may be a secret.
 */
export function validateEnv<T extends object>(cls: Class<T>, source: NodeJS.ProcessEnv): T {
  const defaults = new cls() as Record<string, unknown>;
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(defaults)) {
    const value = source[key];
    raw[key] = value === undefined || value === '' ? defaults[key] : value;
  }
  const env = plainToInstance(cls, raw, {
    enableImplicitConversion: true,
    exposeDefaultValues: true,
  });
  const errors = validateSync(env, { forbidUnknownValues: false });
  if (errors.length > 0) throw new EnvError(describe(errors));
  return env;
}

/** A wrong type explains the other failures (a NaN is also "less than 1"): report it alone. */
const TYPE_CONSTRAINTS = ['isInt', 'isNumber', 'isBoolean', 'isString'];

function describe(errors: ValidationError[]): string {
  const lines = errors.map((e) => {
    const constraints = e.constraints ?? {};
    const typeFailure = TYPE_CONSTRAINTS.find((key) => key in constraints);
    const reasons = typeFailure ? constraints[typeFailure] : Object.values(constraints).join('; ');
    return `${e.property}: ${reasons}`;
  });
  return `Invalid environment: ${lines.join(' | ')}`;
}

/** Why an EGRESS_ALLOW_PRIVATE value cannot be read (naming the bad item), or null. */
/**
 * A string variable checked by `problem`, which names what is wrong with a value (or null when
 * nothing is); its sentence is the validation message.
 */
export function CheckedBy(name: string, problem: (value: string) => string | null) {
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown) => typeof value !== 'string' || problem(value) === null,
      defaultMessage: (args) => problem(String(args?.value)) ?? '',
    },
  });
}

function allowPrivateProblem(value: string): string | null {
  try {
    parseAllowPrivate(value);
    return null;
  } catch (error) {
    return (error as Error).message.replace(/^EGRESS_ALLOW_PRIVATE: /, '');
  }
}

/** Prints a clear start-up failure and exits; used by every app's main.ts. */
/**
 * The exit code of a service refused by its own configuration (sysexits' EX_CONFIG): starting it
 * again cannot help, so `npm start`'s supervisor (scripts/keep-running.js) does not.
 */
export const EXIT_CONFIG = 78;

export function exitOnEnvError(error: unknown, service: string): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${service}: ${message}\n`);
  process.exit(EXIT_CONFIG);
}

export const NODE_ENVS = ['development', 'test', 'production'] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables every service reads. */
export class CommonEnv {
  @IsIn(NODE_ENVS)
  NODE_ENV: NodeEnv = 'development';

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: string = 'info';

  @Matches(/^amqps?:\/\/\S+$/, { message: 'AMQP_URL must be an amqp:// or amqps:// URL' })
  AMQP_URL: string = 'amqp://guest:guest@127.0.0.1:5672';

  @Matches(/^postgres(ql)?:\/\/\S+$/, {
    message: 'DATABASE_URL must be a postgres:// or postgresql:// URL',
  })
  DATABASE_URL: string = 'postgresql://postgres@127.0.0.1:5432/postgres';

  /**
   * Private, loopback and link-local places sandboxes may reach after all (an on-premise
   * database or API): comma-separated `host:port`, `ip[:port]` or `cidr[:port]`. Empty: none.
   * Read by the services that check egress (docs/security/egress.md).
   */
  @IsOptional()
  @IsString()
  @CheckedBy('allowPrivate', allowPrivateProblem)
  EGRESS_ALLOW_PRIVATE?: string = undefined;

  /**
   * The type of the services' RabbitMQ queues: `classic` (one broker node) or `quorum` (a
   * cluster: replicated, with a delivery limit). Fixed when a queue is first declared; moving an
   * existing deployment is docs/adr/0009-quorum-queues.md.
   */
  @IsIn(['classic', 'quorum'], { message: 'BUS_QUEUE_TYPE must be classic or quorum' })
  BUS_QUEUE_TYPE: 'classic' | 'quorum' = 'classic';

  /**
   * A bus service's own probe port (`/livez`, `/readyz`) for an orchestrator's liveness and
   * readiness checks of this very process; off when unset. (The bus health query may be answered
   * by any replica, so it cannot tell one pod's health.)
   */
  @IsOptional()
  @IsInt({ message: 'PROBE_PORT must be an integer' })
  @Min(1)
  @Max(65535)
  PROBE_PORT?: number = undefined;
}
