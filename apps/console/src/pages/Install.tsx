import Form from '@rjsf/core';
import type { RJSFSchema } from '@rjsf/utils';
import { formValidator as validator } from '../forms/validator';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRef, useState } from 'react';
import { useNavigate, useParams } from 'react-router';
import { api, ApiError, explain } from '../api/client';
import { keys, useCatalog } from '../api/queries';
import { useSignedIn } from '../api/session-context';
import type { Connection } from '../api/types';
import { ErrorNote, Loading } from '../components/Notice';
import { SecretWidget } from '../components/SecretWidget';
import { errorsByField, type JsonSchema, uiSchemaFor, withoutBlanks } from '../forms/schema-form';

const widgets = { secret: SecretWidget };

/** The install form, generated from the type's credential and config schemas. */
export function Install() {
  const { serverId = '' } = useParams();
  const session = useSignedIn();
  const catalog = useCatalog();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const server = catalog.data?.find((s) => s.id === serverId);
  const [title, setTitle] = useState('');
  const [credentials, setCredentials] = useState<Record<string, unknown>>({});
  const [config, setConfig] = useState<Record<string, unknown>>({});
  const credentialForm = useRef<Form>(null);
  const configForm = useRef<Form>(null);
  const install = useMutation({
    mutationFn: () =>
      api<Connection>(session, '/functions/v1/mcp-connections/install', {
        method: 'POST',
        body: {
          mcp_server_id: serverId,
          ...(session.admin ? { account_id: session.accountId } : {}),
          title: title.trim() || server?.name,
          provided_credential_schema: withoutBlanks(credentials, server!.credential_schema),
          config: withoutBlanks(config, server!.config_schema),
        },
      }),
    onSuccess: (connection) => {
      void queryClient.invalidateQueries({ queryKey: ['connections'] });
      navigate(`/connections/${connection.id}`);
    },
  });

  if (catalog.isPending) return <Loading what="the server type" />;
  if (catalog.error) return <ErrorNote error={catalog.error} />;
  if (!server) return <p className="error">There is no server type {serverId}.</p>;
  if (session.admin && !session.accountId)
    return <p className="error">Choose an account (top right) to install for.</p>;

  const apiError = install.error instanceof ApiError ? install.error : undefined;
  const credentialFields = Object.keys(server.credential_schema.properties ?? {});
  const placed = errorsByField(apiError?.details ?? [], credentialFields);
  const fieldErrors = Object.fromEntries(
    Object.entries(placed.byField).map(([field, errors]) => [field, { __errors: errors }]),
  );
  const hasConfig = Object.keys(server.config_schema.properties ?? {}).length > 0;

  return (
    <section>
      <h1>Install {server.name}</h1>
      <p>{server.description}</p>
      <label htmlFor="title">Title</label>
      <input
        id="title"
        value={title}
        placeholder={server.name}
        onChange={(e) => setTitle(e.target.value)}
      />
      <h2>Credentials</h2>
      {credentialFields.length === 0 ? (
        <p className="muted">This server needs no credentials.</p>
      ) : null}
      <Form
        ref={credentialForm}
        schema={server.credential_schema as RJSFSchema}
        uiSchema={{
          ...uiSchemaFor(server.credential_schema as JsonSchema),
          'ui:submitButtonOptions': { norender: true },
        }}
        formData={credentials}
        validator={validator}
        widgets={widgets}
        extraErrors={fieldErrors as never}
        liveValidate={false}
        showErrorList={false}
        onChange={(e) => setCredentials((e.formData ?? {}) as Record<string, unknown>)}
        idPrefix="credentials"
      >
        <></>
      </Form>
      {hasConfig ? (
        <>
          <h2>Settings</h2>
          <Form
            ref={configForm}
            schema={server.config_schema as RJSFSchema}
            uiSchema={{
              ...uiSchemaFor(server.config_schema as JsonSchema),
              'ui:submitButtonOptions': { norender: true },
            }}
            formData={config}
            validator={validator}
            widgets={widgets}
            showErrorList={false}
            onChange={(e) => setConfig((e.formData ?? {}) as Record<string, unknown>)}
            idPrefix="config"
          >
            <></>
          </Form>
        </>
      ) : null}
      <InstallButton
        busy={install.isPending}
        onInstall={() => {
          // The schemas' own messages, beside the fields, before anything is sent.
          const credentialsValid = credentialForm.current?.validateForm() !== false;
          const configValid = !hasConfig || configForm.current?.validateForm() !== false;
          if (credentialsValid && configValid) install.mutate();
        }}
      />
      {install.error ? (
        <div className="error" role="alert">
          <p>{explain(install.error)}</p>
          {placed.general.length > 0 ? (
            <ul>
              {placed.general.map((d) => (
                <li key={d}>{d}</li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </section>
  );
}

function InstallButton({ busy, onInstall }: { busy: boolean; onInstall: () => void }) {
  return (
    <p>
      <button type="button" className="primary" disabled={busy} onClick={onInstall}>
        {busy ? 'Installing…' : 'Install'}
      </button>
    </p>
  );
}
