import { schemaErrors } from './schema-errors';

const schema = {
  type: 'object',
  required: ['github_token'],
  properties: {
    github_token: { type: 'string', minLength: 1, writeOnly: true },
    settings: {
      type: 'object',
      properties: { port: { type: 'integer', minimum: 1 } },
    },
  },
} as const;

describe('the form validator (no code generation, for the console’s CSP)', () => {
  it('reports a missing required field on that field, so the message shows beside it', () => {
    expect(schemaErrors(schema as never, {})).toEqual([
      expect.objectContaining({
        name: 'required',
        property: '.github_token',
        message: 'is required',
      }),
    ]);
  });

  it('reports nested errors by their dotted path, and nothing for a valid value', () => {
    const errors = schemaErrors(schema as never, { github_token: 'x', settings: { port: 0 } });
    expect(errors.map((e) => e.property)).toEqual(['.settings.port']);
    expect(schemaErrors(schema as never, { github_token: 'x', settings: { port: 8080 } })).toEqual(
      [],
    );
  });
});
