import { errorsByField, uiSchemaFor, withoutBlanks } from './schema-form';

const github = {
  type: 'object',
  required: ['github_token'],
  properties: {
    github_token: { type: 'string', title: 'GitHub token', writeOnly: true, minLength: 1 },
    owner: { type: 'string', title: 'Owner' },
    service_account: { type: 'string', contentMediaType: 'application/json' },
    nested: { type: 'object', properties: { password: { type: 'string', format: 'password' } } },
  },
};

describe('the install form from a type’s JSON Schema', () => {
  it('masks secret fields (writeOnly or password format, nested ones too) and gives JSON fields a text area', () => {
    expect(uiSchemaFor(github)).toEqual({
      github_token: { 'ui:widget': 'secret', 'ui:options': { autocomplete: 'off' } },
      service_account: { 'ui:widget': 'textarea' },
      nested: { password: { 'ui:widget': 'secret', 'ui:options': { autocomplete: 'off' } } },
    });
    expect(uiSchemaFor({ type: 'object' })).toEqual({});
  });

  it("places the API's 400 details beside the fields they name, and keeps the rest general", () => {
    const placed = errorsByField(
      [
        'provided_credential_schema.github_token must be a string of 1 to 4096 characters',
        'owner is not allowed here',
        'The request body is not valid.',
      ],
      ['github_token', 'owner', 'service_account'],
    );
    expect(placed.byField).toEqual({
      github_token: [
        'provided_credential_schema.github_token must be a string of 1 to 4096 characters',
      ],
      owner: ['owner is not allowed here'],
    });
    expect(placed.general).toEqual(['The request body is not valid.']);
    // A field name inside another word does not match.
    expect(errorsByField(['ownership is wrong'], ['owner']).general).toEqual([
      'ownership is wrong',
    ]);
  });

  it('drops blank optional fields and keeps required ones', () => {
    expect(withoutBlanks({ github_token: '', owner: '', service_account: 'x' }, github)).toEqual({
      github_token: '',
      service_account: 'x',
    });
  });
});
