import { modelToolName } from './mcp-tools';

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
