import { type EgressGuard } from '@athenic/egress';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';

/** The egress rule refused the remote server's address; `reason` says why (no secret in it). */
export class RemoteEgressError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RemoteEgressError';
  }
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** The port a URL reaches (its scheme's default when it names none). */
export function portOf(url: URL): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

/**
 * The fetch a remote connection's MCP client uses (docs/security/egress.md): only the server's own
 * origin; each request checked by the egress rule; a name resolved by the platform and each new
 * socket connected to an address that passed the check (the lookup below), never to the name
 * again, so DNS rebinding gains nothing; redirects never followed by fetch itself (the MCP SDK
 * follows same-origin ones only, through this same function).
 */
export class RemoteFetch {
  private readonly agent: Agent;
  private readonly port: number;

  constructor(
    private readonly guard: EgressGuard,
    private readonly origin: URL,
  ) {
    this.port = portOf(origin);
    this.agent = new Agent({
      connect: {
        lookup: (hostname: string, options: LookupOptions, callback: LookupCallback) => {
          void this.decide(hostname).then(
            (address) =>
              options.all
                ? callback(null, [{ address, family: isIP(address) }])
                : callback(null, address, isIP(address)),
            (error: Error) => callback(error as NodeJS.ErrnoException, ''),
          );
        },
      },
    });
  }

  /** The first address of `host` the egress rule allows, or a RemoteEgressError. */
  async decide(host: string): Promise<string> {
    const decision = await this.guard.decide(host, this.port);
    if (!decision.allowed)
      throw new RemoteEgressError(`Egress refused: ${host}:${this.port}: ${decision.reason}`);
    return decision.addresses[0];
  }

  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== this.origin.origin)
      throw new RemoteEgressError(
        `Egress refused: the remote server sent the client to another origin (${url.host}); only ${this.origin.host} is reached`,
      );
    // An IP literal never goes through the lookup: checked here (a name is checked both here,
    // for a clear error, and at connect time, where it counts).
    await this.decide(url.hostname);
    const response = await undiciFetch(url, {
      ...(init as Parameters<typeof undiciFetch>[1]),
      redirect: 'manual',
      dispatcher: this.agent,
    });
    return response as unknown as Response;
  };

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}
