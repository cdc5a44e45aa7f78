/**
 * A value of a launch spec's `args` or `env`: a literal, or a reference resolved at deploy time.
 * - `credential:<key>`         the credential's value
 * - `credential-file:<key>`    the path of a private file holding the credential's value
 * - `credential-headers:<key>` a JSON object credential as `Name:Value,Name2:Value2`
 * - `config:<key>`             the connection's config value
 * - `workdir:<relative path>`  a path inside the connection's private working dir
 */
export type LaunchValue =
  | { kind: 'literal'; value: string }
  | { kind: 'credential' | 'credential-file' | 'credential-headers'; key: string }
  | { kind: 'config'; key: string }
  | { kind: 'workdir'; path: string };

const CREDENTIAL_KINDS = ['credential', 'credential-file', 'credential-headers'] as const;

export function parseLaunchValue(value: string): LaunchValue {
  const colon = value.indexOf(':');
  const prefix = colon > 0 ? value.slice(0, colon) : '';
  const rest = value.slice(colon + 1);
  if ((CREDENTIAL_KINDS as readonly string[]).includes(prefix)) {
    return { kind: prefix as (typeof CREDENTIAL_KINDS)[number], key: rest };
  }
  if (prefix === 'config') return { kind: 'config', key: rest };
  if (prefix === 'workdir') return { kind: 'workdir', path: rest };
  return { kind: 'literal', value };
}
