/**
 * A message on the bus binds one name to one payload class and, for commands and queries,
 * one reply class. Producers and consumers both import the definition, so a disagreement
 * about the shape of a message is a compile error rather than a runtime surprise.
 */
export type Class<T> = new (...args: never[]) => T;

/** The services that own messages. Only the owner handles its commands and emits its events. */
export const OWNERS = ['gateway', 'registry', 'credential', 'sandbox', 'agent'] as const;
export type Owner = (typeof OWNERS)[number];

/** Each owner is one service; its queue on the bus carries the service's name. */
export const SERVICE_OF_OWNER: Record<Owner, string> = {
  gateway: 'api-gateway',
  registry: 'registry-service',
  credential: 'credential-service',
  sandbox: 'sandbox-service',
  agent: 'agent-runner',
};

export interface CommandDef<N extends string = string, P = unknown, R = unknown> {
  readonly kind: 'command';
  readonly name: N;
  readonly owner: Owner;
  readonly payload: Class<P>;
  readonly reply: Class<R>;
  readonly summary: string;
}

export interface EventDef<N extends string = string, P = unknown> {
  readonly kind: 'event';
  readonly name: N;
  readonly owner: Owner;
  readonly payload: Class<P>;
  readonly summary: string;
}

export type MessageDef = CommandDef<string, any, any> | EventDef<string, any>;

export type PayloadOf<D> =
  D extends CommandDef<string, infer P, unknown>
    ? P
    : D extends EventDef<string, infer P>
      ? P
      : never;
export type ReplyOf<D> = D extends CommandDef<string, unknown, infer R> ? R : never;

const NAME_PATTERN = /^[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*\.[a-z][a-z0-9-]*$/;

function ownerOf(name: string): Owner {
  if (!NAME_PATTERN.test(name)) {
    throw new Error(
      `Message name "${name}" must be <owner>.<entity>.<action>, lower-case and dotted`,
    );
  }
  const owner = name.split('.')[0] as Owner;
  if (!OWNERS.includes(owner))
    throw new Error(`Message name "${name}" has unknown owner "${owner}"`);
  return owner;
}

export function defineCommand<N extends string, P, R>(def: {
  name: N;
  payload: Class<P>;
  reply: Class<R>;
  summary: string;
}): CommandDef<N, P, R> {
  return Object.freeze({ kind: 'command' as const, owner: ownerOf(def.name), ...def });
}

export function defineEvent<N extends string, P>(def: {
  name: N;
  payload: Class<P>;
  summary: string;
}): EventDef<N, P> {
  return Object.freeze({ kind: 'event' as const, owner: ownerOf(def.name), ...def });
}
