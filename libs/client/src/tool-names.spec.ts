import { modelToolName, toolAllowList } from './tool-names';

describe('tool names for the model', () => {
  it('are <server name>-<tool> when that is a valid model tool name', () => {
    expect(modelToolName('memory-server-3f2a9c1d', 'create_entities')).toBe(
      'memory-server-3f2a9c1d-create_entities',
    );
  });

  it('are cut deterministically to 64 characters with a hash of the full name when too long or unusual', () => {
    const long = modelToolName(
      'custom-api-server-3f2a9c1d',
      'a_very_long_operation_name_that_goes_on_and_on_forever',
    );
    expect(long).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    expect(long).toHaveLength(64);
    expect(
      modelToolName(
        'custom-api-server-3f2a9c1d',
        'a_very_long_operation_name_that_goes_on_and_on_forever',
      ),
    ).toBe(long);
    expect(
      modelToolName(
        'custom-api-server-3f2a9c1d',
        'a_very_long_operation_name_that_goes_on_and_on_forevermore',
      ),
    ).not.toBe(long);
    expect(modelToolName('s-1', 'tools/list.all')).toMatch(/^s-1-tools_list_all-[0-9a-f]{8}$/);
  });
});

describe('tool allow-lists', () => {
  it('let every tool pass without a list, and none with an empty one', () => {
    expect(toolAllowList(undefined)('read_graph', 'memory-server-3f2a9c1d-read_graph')).toBe(true);
    expect(toolAllowList([])('read_graph', 'memory-server-3f2a9c1d-read_graph')).toBe(false);
  });

  it('match a name or glob against the MCP name or the model name', () => {
    const allowed = toolAllowList(['read_*', 'memory-server-*-search_nodes']);
    expect(allowed('read_graph', 'memory-server-3f2a9c1d-read_graph')).toBe(true);
    expect(allowed('search_nodes', 'memory-server-3f2a9c1d-search_nodes')).toBe(true);
    expect(allowed('search_nodes', 'github-server-3f2a9c1d-search_nodes')).toBe(false);
    expect(allowed('create_entities', 'memory-server-3f2a9c1d-create_entities')).toBe(false);
    expect(toolAllowList(['create_entities'])('create_entities', 'x-create_entities')).toBe(true);
    expect(toolAllowList(['{read,open}_*'])('open_nodes', 'm-open_nodes')).toBe(true);
  });

  it('refuse lists that are too long or hold patterns that are not strings of 1 to 200 characters', () => {
    expect(() => toolAllowList(Array.from({ length: 101 }, () => 'a'))).toThrow(/at most 100/);
    expect(() => toolAllowList([''])).toThrow(/1 to 200/);
    expect(() => toolAllowList(['x'.repeat(201)])).toThrow(/1 to 200/);
    expect(() => toolAllowList([42 as unknown as string])).toThrow(/1 to 200/);
  });
});
