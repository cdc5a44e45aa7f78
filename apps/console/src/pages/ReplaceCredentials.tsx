import Form from '@rjsf/core';
import type { RJSFSchema } from '@rjsf/utils';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { api, ApiError, explain } from '../api/client';
import { useCatalog } from '../api/queries';
import { useSignedIn } from '../api/session-context';
import type { Connection } from '../api/types';
import { SecretWidget } from '../components/SecretWidget';
import { errorsByField, type JsonSchema, uiSchemaFor, withoutBlanks } from '../forms/schema-form';
import { formValidator } from '../forms/validator';

const widgets = { secret: SecretWidget };

/** New credentials for a connection, from its type's schema; a running one is redeployed. */
export function ReplaceCredentials({ connection }: { connection: Connection }) {
  const session = useSignedIn();
  const catalog = useCatalog();
  const queryClient = useQueryClient();
  const form = useRef<Form>(null);
  const [values, setValues] = useState<Record<string, unknown>>({});
  const schema = catalog.data?.find((s) => s.id === connection.mcp_server_id)?.credential_schema;
  const replace = useMutation({
    mutationFn: () =>
      api(
        session,
        `/functions/v1/mcp-connections/${encodeURIComponent(connection.id)}/credentials`,
        {
          method: 'PUT',
          body: { provided_credential_schema: withoutBlanks(values, schema!) },
        },
      ),
    onSuccess: () => {
      setValues({});
      void queryClient.invalidateQueries({ queryKey: ['connection', connection.id] });
    },
  });
  if (!schema) return null;
  if (Object.keys(schema.properties ?? {}).length === 0)
    return <p className="muted">This server takes no credentials.</p>;
  const apiError = replace.error instanceof ApiError ? replace.error : undefined;
  const placed = errorsByField(apiError?.details ?? [], Object.keys(schema.properties ?? {}));
  return (
    <div>
      <Form
        ref={form}
        schema={schema as RJSFSchema}
        uiSchema={{
          ...uiSchemaFor(schema as JsonSchema),
          'ui:submitButtonOptions': { norender: true },
        }}
        formData={values}
        validator={formValidator}
        widgets={widgets}
        showErrorList={false}
        extraErrors={
          Object.fromEntries(
            Object.entries(placed.byField).map(([f, e]) => [f, { __errors: e }]),
          ) as never
        }
        idPrefix="replace"
        onChange={(e) => setValues((e.formData ?? {}) as Record<string, unknown>)}
      >
        <></>
      </Form>
      <button
        type="button"
        disabled={replace.isPending}
        onClick={() => {
          if (form.current?.validateForm() !== false) replace.mutate();
        }}
      >
        {replace.isPending ? 'Replacing…' : 'Replace credentials'}
      </button>
      {replace.isSuccess ? (
        <p role="status">Replaced; a running server is redeployed with them.</p>
      ) : null}
      {replace.error ? (
        <p className="error" role="alert">
          {explain(replace.error)} {placed.general.join(' ')}
        </p>
      ) : null}
    </div>
  );
}
