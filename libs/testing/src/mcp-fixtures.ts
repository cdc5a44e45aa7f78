/**
 * The source of a tiny stdio MCP server for custom server types in tests (`node -e <source>`):
 * `preamble` runs first (probes, prints), then it answers initialize, tools/list, ping and a
 * `report` tool that returns what the preamble stored in `globalThis.report`.
 */
export function tinyMcpServer(preamble = ''): string {
  return `
globalThis.report = {};
${preamble}
const rl = require('readline').createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
rl.on('line', (line) => {
  let m; try { m = JSON.parse(line); } catch { return; }
  if (m.id === undefined) return;
  if (m.method === 'initialize') return send({ jsonrpc: '2.0', id: m.id, result: { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'tiny', version: '1.0.0' } } });
  if (m.method === 'tools/list') return send({ jsonrpc: '2.0', id: m.id, result: { tools: [{ name: 'report', description: 'what the probes found', inputSchema: { type: 'object', properties: {} } }] } });
  if (m.method === 'tools/call') return send({ jsonrpc: '2.0', id: m.id, result: { content: [{ type: 'text', text: JSON.stringify(globalThis.report) }] } });
  if (m.method === 'ping') return send({ jsonrpc: '2.0', id: m.id, result: {} });
  send({ jsonrpc: '2.0', id: m.id, error: { code: -32601, message: 'no such method' } });
});
`;
}

/** A custom server type for tests: node runs `source`; no package. */
export function customServerType(id: string, source: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    name: id,
    description: 'A test server type.',
    category: 'testing',
    transport: 'stdio',
    launch: { command: 'node', args: ['-e', source], env: {} as Record<string, string> },
    credential_schema: { type: 'object', additionalProperties: false, properties: {} },
    config_schema: { type: 'object', additionalProperties: false, properties: {} },
    egress: [] as string[],
    ...extra,
  };
}
