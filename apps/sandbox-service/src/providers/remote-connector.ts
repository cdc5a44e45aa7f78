import type { RemoteTransport } from '@athenic/contracts';
import { EgressGuard } from '@athenic/egress';
import { McpBridge, SessionBudget } from '@athenic/mcp-bridge';
import { bridgeToken } from '@athenic/platform-crypto';
import { Inject, Injectable } from '@nestjs/common';
import { SANDBOX_CONFIG, type SandboxConfig } from '../config/env';
import { BridgeHost } from './bridge-host';
import { RemoteEgressError, RemoteFetch } from './remote-fetch';
import { RemoteUpstream } from './remote-upstream';
import { DeployError, type SandboxHandle, type SandboxHooks, StderrTail } from './sandbox-provider';

/** A remote connection's server, its URL and headers filled in (the headers may hold secrets). */
export interface RemoteSpec {
  connectionId: string;
  /** The connection's account: its sessions count in the account's MCP_SESSIONS_PER_ACCOUNT. */
  accountId: string;
  transport: RemoteTransport;
  url: URL;
  headers: Record<string, string>;
}

/** The prefix of a remote connection's sandbox ref (there is no sandbox: nothing to adopt). */
export const REMOTE_REF_PREFIX = 'remote:';

/**
 * Connects a remote MCP server (transport "streamable-http" or "sse") instead of starting a
 * sandbox: the URL's address is checked by the egress rule, the MCP client in this process adds
 * the headers, and a bridge on this process's bridge host fronts it, so the gateway reaches a
 * remote connection exactly as a local one (its bridge URL, the connection's bridge token) and
 * the credentials never leave this process. Same handle as a sandbox: ping, last activity, stop,
 * an exit when the server refuses the credentials.
 */
@Injectable()
export class RemoteConnector {
  constructor(
    @Inject(SANDBOX_CONFIG) private readonly config: SandboxConfig,
    private readonly host: BridgeHost,
    private readonly guard: EgressGuard,
    /** MCP_SESSIONS_PER_ACCOUNT: the sessions of all the bridges of one account in this process. */
    private readonly sessions: SessionBudget,
  ) {}

  async start(
    spec: RemoteSpec,
    timeoutMs: number,
    hooks: SandboxHooks,
    signal: AbortSignal,
  ): Promise<SandboxHandle> {
    const id = spec.connectionId;
    const fetch = new RemoteFetch(this.guard, spec.url);
    const upstream = new RemoteUpstream({
      transport: spec.transport,
      url: spec.url,
      headers: spec.headers,
      fetch,
    });
    const stderrTail = new StderrTail();
    const bridge = new McpBridge(upstream, {
      token: bridgeToken(this.config.internalSecret, id),
      sessionBudget: { budget: this.sessions, key: spec.accountId },
      onLog: (stream, line) => {
        if (stream === 'stderr') stderrTail.push(line);
        hooks.onLog(stream, line);
      },
      onExit: (info) => {
        this.host.unregister(id, bridge);
        hooks.onExit(info);
      },
    });
    const abort = () => void upstream.stop();
    signal.addEventListener('abort', abort, { once: true });
    hooks.onLog(
      'system',
      `Connecting to the remote server at ${spec.url.origin}${spec.url.pathname} (${spec.transport})`,
    );
    try {
      // The address first, for a clear refusal before any request.
      await fetch.decide(spec.url.hostname);
      await upstream.open();
      this.host.register(id, bridge);
      const ready = await bridge.start(timeoutMs);
      if (signal.aborted) throw new DeployError('The deployment was cancelled.');
      return {
        ref: `${REMOTE_REF_PREFIX}${spec.url.host}`,
        isolation: 'remote',
        bridgeUrl: this.host.urlFor(id),
        ready,
        ping: (ms) => bridge.ping(ms),
        lastActivity: () => bridge.lastActivity,
        stderrTail: () => stderrTail.lines(),
        stop: async () => {
          this.host.unregister(id, bridge);
          await bridge.close(5000);
        },
      };
    } catch (error) {
      this.host.unregister(id, bridge);
      await bridge.close(0).catch(() => undefined);
      if (error instanceof DeployError) throw error;
      if (error instanceof RemoteEgressError) throw new DeployError(`${error.reason}.`);
      const failure = upstream.failure;
      if (failure?.kind === 'credentials')
        throw new DeployError(`Credentials refused: ${failure.reason}.`);
      if (failure) throw new DeployError(`${capitalize(failure.reason)}.`);
      const text = error instanceof Error ? error.message : String(error);
      throw new DeployError(
        signal.aborted
          ? 'The deployment was cancelled.'
          : `The remote server did not complete the MCP handshake: ${text}.`,
      );
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
