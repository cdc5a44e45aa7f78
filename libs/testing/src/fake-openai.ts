import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface ChatRequest {
  model: string;
  messages: { role: string; content: unknown; tool_calls?: unknown[]; tool_call_id?: string }[];
  tools?: {
    type: 'function';
    function: { name: string; description?: string; parameters?: unknown };
  }[];
}

export interface ScriptedReply {
  /** Tool calls by the tool's name as listed, or by a suffix (`-create_entities`). */
  toolCalls?: { name: string; arguments: Record<string, unknown> }[];
  content?: string;
}

/** A step may take its time (a promise), as a slow model would. */
export type ScriptStep = (request: ChatRequest) => ScriptedReply | Promise<ScriptedReply>;

/**
 * A local OpenAI-compatible chat-completions server that plays a scripted conversation: each
 * request gets the next step's reply (tool calls or an answer). It speaks the real wire format,
 * so the platform's model adapter is exercised as with a real provider.
 */
export class FakeOpenAi {
  readonly requests: ChatRequest[] = [];
  /** How long the model took to answer each request, in ms. */
  readonly timings: number[] = [];
  private server: Server | undefined;
  private step = 0;
  private port = 0;
  baseUrl = '';

  constructor(
    private script: ScriptStep[],
    readonly apiKey = 'sk-fake-openai-key-for-tests',
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const started = performance.now();
      void this.handle(req).then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
          this.timings.push(performance.now() - started);
        },
        (error: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: String(error), type: 'server_error' } }));
        },
      );
    });
    // The same port after a restart, so a platform configured with it finds it again.
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as { port: number }).port}/v1/`;
    return this;
  }

  /** The agent runner's settings that point it at this fake model (AGENT_MODEL and its key). */
  platformEnv(model = 'openai:gpt-test'): Record<string, string> {
    return { AGENT_MODEL: model, OPENAI_API_KEY: this.apiKey, OPENAI_BASE_URL: this.baseUrl };
  }

  /** A new conversation from the first step. */
  play(script: ScriptStep[]): void {
    this.script = script;
    this.step = 0;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    if (req.headers.authorization !== `Bearer ${this.apiKey}`) {
      return {
        status: 401,
        body: { error: { message: 'Incorrect API key provided', type: 'invalid_request_error' } },
      };
    }
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      return { status: 404, body: { error: { message: `Unknown route ${req.url}` } } };
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatRequest;
    this.requests.push(request);
    const script = this.script[Math.min(this.step++, this.script.length - 1)];
    const reply = await script(request);
    const toolCalls = (reply.toolCalls ?? []).map((call, i) => ({
      id: `call_${this.step}_${i}`,
      type: 'function',
      function: {
        name: resolveToolName(request, call.name),
        arguments: JSON.stringify(call.arguments),
      },
    }));
    return {
      status: 200,
      body: {
        id: `chatcmpl-${this.step}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: request.model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: reply.content ?? null,
              ...(toolCalls.length ? { tool_calls: toolCalls } : {}),
            },
            finish_reason: toolCalls.length ? 'tool_calls' : 'stop',
          },
        ],
        usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
      },
    };
  }
}

/** A listed tool's full name from the exact name or a `-suffix`. */
function resolveToolName(request: ChatRequest, name: string): string {
  const names = (request.tools ?? []).map((t) => t.function.name);
  return (
    names.find((n) => n === name) ??
    names.find((n) => name.startsWith('-') && n.endsWith(name)) ??
    name
  );
}

/** The text of the last tool result the model was given. */
export function lastToolResult(request: ChatRequest): string {
  const tool = [...request.messages].reverse().find((m) => m.role === 'tool');
  return typeof tool?.content === 'string' ? tool.content : JSON.stringify(tool?.content ?? '');
}
