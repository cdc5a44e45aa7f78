import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CfWorkerJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/cfworker-provider.js';
import Form from '@rjsf/core';
import type { RJSFSchema } from '@rjsf/utils';
import { formValidator as validator } from '../forms/validator';
import { useEffect, useRef, useState } from 'react';
import { explain } from '../api/client';
import { useSignedIn } from '../api/session-context';
import { SecretWidget } from '../components/SecretWidget';
import { type JsonSchema, uiSchemaFor } from '../forms/schema-form';

interface Tool {
  name: string;
  description?: string;
  inputSchema: JsonSchema;
}

interface CallResult {
  tool: string;
  durationMs: number;
  isError: boolean;
  content: {
    type: string;
    text?: string;
    data?: string;
    mimeType?: string;
    [k: string]: unknown;
  }[];
  structured?: unknown;
}

const widgets = { secret: SecretWidget };

/** The connection's tools through its MCP endpoint (same origin, the session's key). */
export function ToolExplorer({
  connectionId,
  running,
}: {
  connectionId: string;
  running: boolean;
}) {
  const session = useSignedIn();
  const client = useRef<Client | undefined>(undefined);
  const [tools, setTools] = useState<Tool[]>();
  const [error, setError] = useState<string>();
  const [chosen, setChosen] = useState<string>('');
  const [args, setArgs] = useState<Record<string, unknown>>({});
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<CallResult>();

  useEffect(() => {
    if (!running) return;
    let closed = false;
    // Tool output schemas checked without code generation (the page's CSP has no 'unsafe-eval').
    const mcp = new Client(
      { name: 'athenic-console', version: '1.0.0' },
      { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
    );
    const url = new URL(
      `/functions/v1/mcp-connections/${encodeURIComponent(connectionId)}/mcp`,
      window.location.origin,
    );
    (async () => {
      try {
        await mcp.connect(
          new StreamableHTTPClientTransport(url, {
            requestInit: { headers: { Authorization: `Bearer ${session.key}` } },
          }),
        );
        const listed = await mcp.listTools();
        if (closed) return;
        client.current = mcp;
        setTools(listed.tools as Tool[]);
        setError(undefined);
      } catch (e) {
        if (!closed) setError(`The tools could not be listed: ${explain(e)}`);
      }
    })();
    return () => {
      closed = true;
      client.current = undefined;
      void mcp.close();
    };
  }, [connectionId, running, session.key]);

  if (!running) return <p className="muted">Start the connection to explore its tools.</p>;
  if (error)
    return (
      <p className="error" role="alert">
        {error}
      </p>
    );
  if (!tools) return <p className="muted">Listing tools…</p>;
  const tool = tools.find((t) => t.name === chosen);

  async function call(input: Record<string, unknown>) {
    if (!client.current || !tool) return;
    setBusy(true);
    setResult(undefined);
    const started = performance.now();
    try {
      const answer = await client.current.callTool({ name: tool.name, arguments: input });
      setResult({
        tool: tool.name,
        durationMs: Math.round(performance.now() - started),
        isError: answer.isError === true,
        content: (answer.content ?? []) as CallResult['content'],
        structured: answer.structuredContent,
      });
    } catch (e) {
      setResult({
        tool: tool.name,
        durationMs: Math.round(performance.now() - started),
        isError: true,
        content: [{ type: 'text', text: explain(e) }],
      });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="explorer">
      <label htmlFor="tool">Tool</label>
      <select
        id="tool"
        value={chosen}
        onChange={(e) => {
          setChosen(e.target.value);
          setArgs({});
          setResult(undefined);
        }}
      >
        <option value="">Choose one of {tools.length} tools</option>
        {tools.map((t) => (
          <option key={t.name} value={t.name}>
            {t.name}
          </option>
        ))}
      </select>
      {tool ? (
        <>
          <p className="muted">{tool.description}</p>
          <Form
            key={tool.name}
            schema={tool.inputSchema as RJSFSchema}
            uiSchema={{
              ...uiSchemaFor(tool.inputSchema),
              'ui:submitButtonOptions': {
                submitText: busy ? 'Calling…' : `Call ${tool.name}`,
                props: { disabled: busy },
              },
            }}
            formData={args}
            validator={validator}
            widgets={widgets}
            showErrorList={false}
            idPrefix="tool"
            onChange={(e) => setArgs((e.formData ?? {}) as Record<string, unknown>)}
            onSubmit={(e) => void call((e.formData ?? {}) as Record<string, unknown>)}
          />
        </>
      ) : null}
      {result ? <ToolResult result={result} /> : null}
    </div>
  );
}

function ToolResult({ result }: { result: CallResult }) {
  return (
    <div className={result.isError ? 'result result-error' : 'result'} data-testid="tool-result">
      <p className="muted">
        {result.tool} {result.isError ? 'failed' : 'answered'} in {result.durationMs} ms
      </p>
      {result.content.map((item, i) =>
        item.type === 'text' ? (
          <pre key={i}>{item.text}</pre>
        ) : item.type === 'image' && typeof item.data === 'string' ? (
          <img
            key={i}
            alt={`image ${i + 1} of the result`}
            src={`data:${item.mimeType ?? 'image/png'};base64,${item.data}`}
          />
        ) : (
          <pre key={i}>{JSON.stringify(item, null, 2)}</pre>
        ),
      )}
      {result.structured !== undefined && result.content.length === 0 ? (
        <pre>{JSON.stringify(result.structured, null, 2)}</pre>
      ) : null}
    </div>
  );
}
