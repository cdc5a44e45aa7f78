import {
  type CommandDef,
  type DomainError,
  type EventDef,
  type PayloadOf,
  type ReplyOf,
} from '@athenic/contracts';
import { EventPattern, MessagePattern } from '@nestjs/microservices';
import type { BusContext } from './bus-context';

/**
 * Turns a failure of a dependency (a database that went away) into a domain error, so the
 * caller gets a clear 503 instead of an internal error. Registered by the service at start.
 */
export type ErrorTranslator = (error: unknown) => DomainError | undefined;
const translators: ErrorTranslator[] = [];

export function registerErrorTranslator(translator: ErrorTranslator): void {
  translators.push(translator);
}

function translated(error: unknown): unknown {
  for (const translate of translators) {
    const domain = translate(error);
    if (domain) return domain;
  }
  return error;
}

/** What a handler threw, carried past Nest's own exception layer to the bus server's policy. */
export class HandlerFailure {
  constructor(readonly error: unknown) {}
}

export interface HandleOptions {
  /**
   * Events only: every process of the service gets the event (its own exclusive queue), not one
   * replica of them (the service's shared queue). For state each process keeps: caches, what it
   * runs. Such handlers must be idempotent and cheap.
   */
  everyReplica?: boolean;
}

/** The events some handler takes on every replica (read by the bus server at start). */
export const EVERY_REPLICA = new Set<string>();

type CommandHandler<D> = (
  payload: PayloadOf<D>,
  context: BusContext,
) => Promise<ReplyOf<D>> | ReplyOf<D>;
type EventHandler<D> = (payload: PayloadOf<D>, context: BusContext) => Promise<void> | void;

/**
 * Marks a method as the handler of one message of `libs/contracts`. The method's payload and
 * return types must match the definition, or the code does not compile. The bus server validates
 * the payload, acks, replies and dead-letters; the method only does the work.
 */
export function Handle<D extends CommandDef<string, any, any>>(
  def: D,
): <M extends CommandHandler<D>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;
export function Handle<D extends EventDef<string, any>>(
  def: D,
  options?: HandleOptions,
): <M extends EventHandler<D>>(
  target: object,
  key: string | symbol,
  descriptor: TypedPropertyDescriptor<M>,
) => void;
export function Handle(
  def: CommandDef<string, any, any> | EventDef<string, any>,
  options: HandleOptions = {},
) {
  if (options.everyReplica) EVERY_REPLICA.add(def.name);
  return (
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<(...args: any[]) => any>,
  ) => {
    const original = descriptor.value!;
    const wrapped = async function (this: unknown, ...args: unknown[]) {
      try {
        return await original.apply(this, args);
      } catch (error) {
        return new HandlerFailure(translated(error));
      }
    };
    for (const metaKey of Reflect.getMetadataKeys(original)) {
      Reflect.defineMetadata(metaKey, Reflect.getMetadata(metaKey, original), wrapped);
    }
    Object.defineProperty(wrapped, 'name', { value: original.name });
    descriptor.value = wrapped;
    const pattern = def.kind === 'command' ? MessagePattern(def.name) : EventPattern(def.name);
    pattern(target, key, descriptor);
  };
}
