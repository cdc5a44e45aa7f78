import type { CreateMcpServerCommand } from '@athenic/contracts';

const MAX_CREDENTIAL = 8192;

/** A JSON Schema for credentials: string values, unknown keys refused, secrets marked writeOnly. */
function credentials(
  properties: Record<
    string,
    { title: string; description: string; secret?: boolean; json?: boolean; target?: boolean }
  >,
  required: string[],
): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    required,
    properties: Object.fromEntries(
      Object.entries(properties).map(([key, p]) => [
        key,
        {
          type: 'string',
          title: p.title,
          description: p.description,
          minLength: 1,
          maxLength: MAX_CREDENTIAL,
          ...(p.secret ? { writeOnly: true } : {}),
          ...(p.json ? { contentMediaType: 'application/json' } : {}),
          // A place to connect to: its host and port are this connection's egress target.
          ...(p.target ? { 'x-egress-target': true } : {}),
        },
      ]),
    ),
  };
}

/** A mail server's host, port and TLS settings (`imap_host`, `imap_port`, `imap_tls`). */
function mailServer(
  prefix: string,
  protocol: string,
  port: number,
  tls: string,
): Record<string, unknown> {
  return {
    [`${prefix}_host`]: {
      type: 'string',
      minLength: 1,
      maxLength: 253,
      title: `${protocol} host`,
      // Where the server connects: this host on the port of the next field (docs/security/egress.md).
      'x-egress-target': true,
      'x-egress-port': `${prefix}_port`,
    },
    [`${prefix}_port`]: {
      type: 'integer',
      minimum: 1,
      maximum: 65535,
      default: port,
      title: `${protocol} port`,
    },
    [`${prefix}_tls`]: {
      type: 'boolean',
      default: true,
      title: `${protocol} TLS`,
      description: tls,
    },
  };
}

const NO_CONFIG = { type: 'object', additionalProperties: false, properties: {} };
const NO_CREDENTIALS = credentials({}, []);

/**
 * The server types shipped with the platform, upserted at every start of the registry service.
 * Each names the npm package (installed ahead under mcp-packages/), how it is started, which
 * credential feeds which variable, and the hosts it must reach.
 */
export const BUILTIN_SERVERS: CreateMcpServerCommand[] = [
  {
    id: 'github-server',
    name: 'GitHub',
    description: 'Repositories, files, branches, issues and pull requests through the GitHub API.',
    category: 'development',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-github@2025.4.8',
    launch: {
      command: 'mcp-server-github',
      args: [],
      env: { GITHUB_PERSONAL_ACCESS_TOKEN: 'credential:github_token' },
    },
    credential_schema: credentials(
      {
        github_token: {
          title: 'GitHub token',
          description: 'A personal access token (classic or fine-grained).',
          secret: true,
        },
      },
      ['github_token'],
    ),
    config_schema: NO_CONFIG,
    egress: ['api.github.com'],
  },
  {
    id: 'postgres-server',
    name: 'PostgreSQL',
    description: 'Read-only SQL queries and table schemas of a PostgreSQL database.',
    category: 'database',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-postgres@0.6.2',
    launch: { command: 'mcp-server-postgres', args: ['credential:connection_string'], env: {} },
    credential_schema: credentials(
      {
        connection_string: {
          title: 'Connection string',
          description: 'postgresql://user:password@host:5432/database',
          secret: true,
          target: true,
        },
      },
      ['connection_string'],
    ),
    config_schema: NO_CONFIG,
    // Only the database the connection string names (a user-given target).
    egress: [],
  },
  {
    id: 'slack-server',
    name: 'Slack',
    description: 'Channels, messages, threads, reactions and users of a Slack workspace.',
    category: 'communication',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-slack@2025.4.25',
    launch: {
      command: 'mcp-server-slack',
      args: [],
      env: {
        SLACK_BOT_TOKEN: 'credential:slack_bot_token',
        SLACK_TEAM_ID: 'credential:slack_team_id',
        SLACK_CHANNEL_IDS: 'credential:slack_channel_ids',
      },
    },
    credential_schema: credentials(
      {
        slack_bot_token: {
          title: 'Bot token',
          description: 'The bot user OAuth token (xoxb-...).',
          secret: true,
        },
        slack_team_id: { title: 'Team id', description: 'The workspace id (T...).' },
        slack_channel_ids: {
          title: 'Channel ids',
          description: 'Optional comma-separated channel ids to limit the channels listed.',
        },
      },
      ['slack_bot_token', 'slack_team_id'],
    ),
    config_schema: NO_CONFIG,
    egress: ['slack.com'],
  },
  {
    id: 'google-drive-server',
    name: 'Google Drive',
    description: 'Search and read documents and files of Google Drive.',
    category: 'productivity',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-gdrive@2025.1.14',
    launch: {
      command: 'mcp-server-gdrive',
      args: [],
      env: { GDRIVE_CREDENTIALS_PATH: 'credential-file:google_oauth_credentials' },
    },
    credential_schema: credentials(
      {
        google_oauth_credentials: {
          title: 'OAuth credentials',
          description:
            'The authorised user credentials as JSON text (access_token, refresh_token, ...).',
          secret: true,
          json: true,
        },
      },
      ['google_oauth_credentials'],
    ),
    config_schema: NO_CONFIG,
    egress: ['www.googleapis.com', 'oauth2.googleapis.com'],
  },
  {
    id: 'jira-server',
    name: 'Jira',
    description:
      'Issues, projects and searches of a Jira Cloud site through the Atlassian REST API.',
    category: 'productivity',
    transport: 'stdio',
    package: '@aashari/mcp-server-atlassian-jira@3.3.0',
    launch: {
      // Any argument switches this package to its CLI mode: start it with none.
      command: 'mcp-atlassian-jira',
      args: [],
      env: {
        TRANSPORT_MODE: 'stdio',
        ATLASSIAN_SITE_NAME: 'credential:atlassian_site_name',
        ATLASSIAN_USER_EMAIL: 'credential:atlassian_user_email',
        ATLASSIAN_API_TOKEN: 'credential:atlassian_api_token',
      },
    },
    credential_schema: credentials(
      {
        atlassian_site_name: {
          title: 'Site name',
          description: 'The subdomain of <site>.atlassian.net.',
        },
        atlassian_user_email: {
          title: 'User email',
          description: 'The email of the Atlassian account.',
        },
        atlassian_api_token: {
          title: 'API token',
          description: 'An Atlassian API token.',
          secret: true,
        },
      },
      ['atlassian_site_name', 'atlassian_user_email', 'atlassian_api_token'],
    ),
    config_schema: NO_CONFIG,
    egress: ['*.atlassian.net'],
  },
  {
    id: 'custom-api-server',
    name: 'Custom API',
    description: 'Any REST API described by an OpenAPI document, each operation a tool.',
    category: 'custom',
    transport: 'stdio',
    package: '@ivotoby/openapi-mcp-server@1.16.1',
    launch: {
      command: 'openapi-mcp-server',
      args: ['--transport', 'stdio'],
      env: {
        API_BASE_URL: 'config:api_base_url',
        OPENAPI_SPEC_PATH: 'config:openapi_spec_url',
        API_HEADERS: 'credential-headers:api_headers',
      },
    },
    credential_schema: credentials(
      {
        api_headers: {
          title: 'API headers',
          description:
            'Optional JSON object of headers sent with every request, e.g. {"Authorization": "Bearer ..."}.',
          secret: true,
          json: true,
        },
      },
      [],
    ),
    config_schema: {
      type: 'object',
      additionalProperties: false,
      required: ['api_base_url', 'openapi_spec_url'],
      properties: {
        api_base_url: {
          type: 'string',
          format: 'uri',
          maxLength: 2048,
          title: 'API base URL',
          'x-egress-target': true,
        },
        openapi_spec_url: {
          type: 'string',
          format: 'uri',
          maxLength: 2048,
          title: 'OpenAPI document URL',
          'x-egress-target': true,
        },
      },
    },
    // Only the hosts of the two URLs (user-given targets).
    egress: [],
  },
  {
    id: 'email-server',
    name: 'Email (IMAP and SMTP)',
    description:
      'Search, read, send and reply to the mail of any IMAP and SMTP mailbox (no vendor account needed).',
    category: 'communication',
    transport: 'stdio',
    package: 'mcp-mail-server@1.2.1',
    launch: {
      command: 'mcp-mail-server',
      args: [],
      env: {
        IMAP_HOST: 'config:imap_host',
        IMAP_PORT: 'config:imap_port',
        IMAP_SECURE: 'config:imap_tls',
        SMTP_HOST: 'config:smtp_host',
        SMTP_PORT: 'config:smtp_port',
        SMTP_SECURE: 'config:smtp_tls',
        EMAIL_USER: 'credential:username',
        EMAIL_PASS: 'credential:password',
      },
    },
    credential_schema: credentials(
      {
        username: {
          title: 'User name',
          description: 'The mailbox login for IMAP and SMTP, usually the full address.',
        },
        password: { title: 'Password', description: 'The password or app password.', secret: true },
      },
      ['username', 'password'],
    ),
    config_schema: {
      type: 'object',
      additionalProperties: false,
      required: ['imap_host', 'smtp_host'],
      properties: {
        ...mailServer('imap', 'IMAP', 993, 'TLS from the start (port 993); false for plain IMAP'),
        ...mailServer(
          'smtp',
          'SMTP',
          465,
          'TLS from the start (port 465); false for plain SMTP or STARTTLS (587)',
        ),
      },
    },
    // Only the two mail servers the config names (user-given targets, host with its port).
    egress: [],
  },
  {
    id: 'calendar-server',
    name: 'Calendar (CalDAV)',
    description:
      'Calendars, events and to-dos of any CalDAV server: Nextcloud, Fastmail, iCloud, Radicale and others.',
    category: 'productivity',
    transport: 'stdio',
    package: 'caldav-mcp@0.10.0',
    launch: {
      command: 'caldav-mcp',
      args: [],
      env: {
        CALDAV_BASE_URL: 'config:caldav_url',
        CALDAV_USERNAME: 'credential:username',
        CALDAV_PASSWORD: 'credential:password',
      },
    },
    credential_schema: credentials(
      {
        username: { title: 'User name', description: 'The CalDAV login.' },
        password: { title: 'Password', description: 'The password or app password.', secret: true },
      },
      ['username', 'password'],
    ),
    config_schema: {
      type: 'object',
      additionalProperties: false,
      required: ['caldav_url'],
      properties: {
        caldav_url: {
          type: 'string',
          format: 'uri',
          maxLength: 2048,
          title: 'CalDAV URL',
          description: 'The server address, e.g. https://cloud.example.com/remote.php/dav/',
          'x-egress-target': true,
        },
      },
    },
    // Only the CalDAV server the URL names (a user-given target).
    egress: [],
  },
  {
    id: 'google-calendar-server',
    name: 'Google Calendar',
    description: 'Events, calendars, free/busy and scheduling of a Google account.',
    category: 'productivity',
    transport: 'stdio',
    package: '@cocal/google-calendar-mcp@2.6.3',
    launch: {
      command: 'google-calendar-mcp',
      args: [],
      env: {
        GOOGLE_OAUTH_CREDENTIALS: 'credential-file:google_oauth_client',
        GOOGLE_CALENDAR_MCP_TOKEN_PATH: 'credential-file:google_tokens',
      },
    },
    credential_schema: credentials(
      {
        google_oauth_client: {
          title: 'OAuth client',
          description:
            'The OAuth client JSON from Google Cloud (a Desktop app client of a project with the Calendar API).',
          secret: true,
          json: true,
        },
        google_tokens: {
          title: 'Tokens',
          description:
            'The tokens.json that "npx @cocal/google-calendar-mcp auth" writes ({"normal": {"access_token": ..., "refresh_token": ...}}).',
          secret: true,
          json: true,
        },
      },
      ['google_oauth_client', 'google_tokens'],
    ),
    config_schema: NO_CONFIG,
    egress: ['www.googleapis.com', 'oauth2.googleapis.com'],
  },
  {
    id: 'filesystem-server',
    name: 'File system',
    description:
      "Read, write, search and organise files in the connection's own working directory.",
    category: 'filesystem',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-filesystem@2026.8.31',
    launch: { command: 'mcp-server-filesystem', args: ['workdir:.'], env: {} },
    credential_schema: NO_CREDENTIALS,
    config_schema: NO_CONFIG,
    egress: [],
  },
  {
    id: 'memory-server',
    name: 'Memory',
    description:
      'A knowledge graph of entities, relations and observations the agent keeps between runs.',
    category: 'knowledge',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-memory@2026.8.31',
    launch: {
      command: 'mcp-server-memory',
      args: [],
      env: { MEMORY_FILE_PATH: 'workdir:memory.jsonl' },
    },
    credential_schema: NO_CREDENTIALS,
    config_schema: NO_CONFIG,
    egress: [],
  },
  {
    id: 'everything-server',
    name: 'Everything (test server)',
    description:
      'The MCP reference server exercising every protocol feature; for trying the platform out.',
    category: 'testing',
    transport: 'stdio',
    package: '@modelcontextprotocol/server-everything@2026.8.31',
    launch: {
      command: 'mcp-server-everything',
      args: ['stdio'],
      env: { DEMO_SECRET: 'credential:demo_secret' },
    },
    credential_schema: credentials(
      {
        demo_secret: {
          title: 'Demo secret',
          description: 'Optional; passed to the server as DEMO_SECRET.',
          secret: true,
        },
      },
      [],
    ),
    config_schema: NO_CONFIG,
    egress: [],
  },
];
