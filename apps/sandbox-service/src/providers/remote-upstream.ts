import type { RemoteTransport } from '@athenic/contracts';
import type { ExitInfo, UpstreamProcess } from '@athenic/mcp-bridge';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { PassThrough } from 'node:stream';
import { RemoteEgressError, type RemoteFetch } from './remote-fetch';

export interface RemoteUpstreamOptions {
  transport: RemoteTransport;
  url: URL;
  /** The headers of every request, credentials filled in: they never leave this object. */
  headers: Record<string, string>;
  fetch: RemoteFetch;
}

/** Why a remote upstream ended on its own (the connection's reason; never a credential). */
export type RemoteFailure = { kind: 'credentials' | 'egress' | 'transport'; reason: string };

const JSONRPC_INTERNAL_ERROR = -32603;
/** How long a stop waits for the server to end its session. */
const SESSION_END_WAIT_MS = 3000;

/**
 * A remote MCP server as the bridge's upstream (`UpstreamProcess`): the bridge writes JSON-RPC
 * lines to `stdin` and reads them from `stdout` as from a stdio server; this class carries them
 * over MCP Streamable HTTP (or the older HTTP+SSE transport) with the MCP SDK's client transport.
 * So a remote connection gets the bridge's sessions, id rewriting, pings and limits unchanged,
 * and the headers (credentials) stay in this process. It "exits" when stopped, or at once when
 * the server refuses the credentials (HTTP 401/403) or the egress rule refuses its address: those
 * are not retried request by request. Other failures of one request answer that request with an
 * error (the bridge's health pings notice a server that is gone).
 */
export class RemoteUpstream implements UpstreamProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exited: Promise<ExitInfo>;
  /** Set when the upstream ended on its own: why. */
  failure: RemoteFailure | undefined;
  private resolveExit!: (info: ExitInfo) => void;
  private exit: ExitInfo | undefined;
  private readonly transport: Transport;
  private buffered = '';

  constructor(private readonly options: RemoteUpstreamOptions) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    const common = { requestInit: { headers: options.headers }, fetch: options.fetch.fetch };
    this.transport =
      options.transport === 'sse'
        ? new SSEClientTransport(options.url, {
            ...common,
            eventSourceInit: { fetch: options.fetch.fetch },
          })
        : new StreamableHTTPClientTransport(options.url, {
            ...common,
            // Reconnecting a dropped GET stream: a few times, then the health pings decide.
            reconnectionOptions: {
              initialReconnectionDelay: 1000,
              maxReconnectionDelay: 30_000,
              reconnectionDelayGrowFactor: 2,
              maxRetries: 5,
            },
          });
    this.transport.onmessage = (message) => this.fromServer(message);
    this.transport.onerror = (error) => this.transportError(error);
    this.transport.onclose = () => {
      if (!this.exit)
        this.fail({ kind: 'transport', reason: 'the remote server closed the connection' });
    };
    this.stdin.setEncoding('utf8');
    this.stdin.on('data', (chunk: string) => this.fromBridge(chunk));
  }

  /** Opens the transport (for SSE: the event stream and its endpoint). */
  async open(): Promise<void> {
    try {
      await this.transport.start();
    } catch (error) {
      this.failFrom(error);
      throw error;
    }
  }

  async stop(): Promise<ExitInfo> {
    if (this.exit) return this.exit;
    // Ends the server's session (DELETE), without waiting long for a server that does not answer.
    if (this.transport instanceof StreamableHTTPClientTransport && this.transport.sessionId) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.transport.terminateSession().catch(() => undefined),
        new Promise((resolve) => (timer = setTimeout(resolve, SESSION_END_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    this.finish({ code: 0, signal: null });
    return this.exit!;
  }

  private finish(info: ExitInfo): void {
    if (this.exit) return;
    this.exit = info;
    this.transport.onclose = undefined;
    void this.transport.close().catch(() => undefined);
    void this.options.fetch.close();
    this.stdout.end();
    this.stderr.end();
    this.resolveExit(info);
  }

  private fail(failure: RemoteFailure): void {
    if (this.exit) return;
    this.failure = failure;
    this.stderr.write(`${failure.reason}\n`);
    this.finish({ code: null, signal: null, reason: `was stopped: ${failure.reason}` });
  }

  /** A request failed: a refusal of the credentials or of the address ends the upstream. */
  private failFrom(error: unknown): boolean {
    const failure = classify(error);
    if (!failure) return false;
    this.fail(failure);
    return true;
  }

  private transportError(error: Error): void {
    if (this.exit || this.failFrom(error)) return;
    this.stderr.write(`The remote server's event stream: ${error.message}\n`);
  }

  private fromBridge(chunk: string): void {
    this.buffered += chunk;
    let newline: number;
    while ((newline = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, newline);
      this.buffered = this.buffered.slice(newline + 1);
      if (!line.trim()) continue;
      try {
        this.send(JSON.parse(line) as JSONRPCMessage);
      } catch {
        // The bridge writes JSON-RPC only; anything else is not sent on.
      }
    }
  }

  private send(message: JSONRPCMessage): void {
    if (this.exit) return;
    this.transport.send(message).catch((error: unknown) => {
      if (this.exit || this.failFrom(error)) return;
      const text = error instanceof Error ? error.message : String(error);
      this.stderr.write(`A request to the remote server failed: ${text}\n`);
      if ('id' in message && 'method' in message)
        this.toBridge({
          jsonrpc: '2.0',
          id: message.id,
          error: { code: JSONRPC_INTERNAL_ERROR, message: `The remote server failed: ${text}` },
        });
    });
  }

  private fromServer(message: JSONRPCMessage): void {
    // The protocol version the server chose goes on every later request (MCP-Protocol-Version).
    const result =
      'result' in message ? (message.result as { protocolVersion?: unknown }) : undefined;
    if (
      typeof result?.protocolVersion === 'string' &&
      this.transport instanceof StreamableHTTPClientTransport
    )
      this.transport.setProtocolVersion(result.protocolVersion);
    this.toBridge(message);
  }

  private toBridge(message: JSONRPCMessage): void {
    if (!this.exit) this.stdout.write(`${JSON.stringify(message)}\n`);
  }
}

/** A failure that ends a remote upstream: credentials refused, or the egress rule. */
export function classify(error: unknown): RemoteFailure | undefined {
  if (error instanceof RemoteEgressError) return { kind: 'egress', reason: error.reason };
  const status =
    error instanceof StreamableHTTPError
      ? error.code
      : ((error as { code?: unknown } | null)?.code ?? undefined);
  if (status === 401 || status === 403)
    return {
      kind: 'credentials',
      reason: `the remote server refused the credentials (HTTP ${status}); replace them with PUT /functions/v1/mcp-connections/<id>/credentials`,
    };
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause && cause !== error ? classify(cause) : undefined;
}
