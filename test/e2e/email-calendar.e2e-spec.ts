import {
  ApiClient,
  type CalDavServer,
  connectMcpClient,
  createTestInfrastructure,
  eventually,
  FakeOpenAi,
  lastToolResult,
  type MailServer,
  resultText,
  runAgent,
  startCalDavServer,
  startMailServer,
  type TestInfrastructure,
  TestPlatform,
  waitForStatus,
} from '@athenic/testing';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { randomBytes } from 'node:crypto';

// The guide's "Email & Calendar" servers against real servers on loopback: Dovecot (IMAP, and
// LMTP for delivery) behind an SMTP submission server, and Radicale for CalDAV. The sandboxes
// reach them only because EGRESS_ALLOW_PRIVATE opens their ports, as an operator opens a mail
// server of their own network.
const ALICE = { user: 'alice@example.test', password: `pw-${randomBytes(12).toString('hex')}` };
const BOB = { user: 'bob@example.test', password: `pw-${randomBytes(12).toString('hex')}` };
const CAROL = { user: 'carol', password: `pw-${randomBytes(12).toString('hex')}` };

describe('email and calendar servers against local IMAP, SMTP and CalDAV servers', () => {
  let mail: MailServer;
  let caldav: CalDavServer;
  let infra: TestInfrastructure;
  let platform: TestPlatform;
  let admin: ApiClient;
  const model = new FakeOpenAi([]);
  const clients: Client[] = [];
  let aliceMail: string;
  let bobMail: string;
  let calendarUrl: string;
  let calendarId: string;

  const mailConfig = () => ({
    imap_host: '127.0.0.1',
    imap_port: mail.imapPort,
    imap_tls: false,
    smtp_host: '127.0.0.1',
    smtp_port: mail.smtpPort,
    smtp_tls: false,
  });
  const mcp = async (id: string): Promise<Client> => {
    const client = await connectMcpClient(
      `${platform.baseUrl}/functions/v1/mcp-connections/${id}/mcp`,
      platform.serviceRoleKey,
    );
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    mail = await startMailServer([ALICE, BOB]);
    caldav = await startCalDavServer([CAROL]);
    await model.start();
    infra = await createTestInfrastructure('email-calendar');
    platform = await new TestPlatform(infra, {
      env: {
        // Opened as an operator opens on-premise services: an address of this host needs its port.
        EGRESS_ALLOW_PRIVATE: [mail.imapPort, mail.smtpPort, caldav.port]
          .map((port) => `127.0.0.1:${port}`)
          .join(','),
        ...model.platformEnv(),
      },
    }).start();
    admin = new ApiClient(platform.baseUrl, platform.serviceRoleKey);
  });

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => undefined);
    await platform?.stop();
    await infra?.dispose();
    await model.stop();
    await mail?.stop();
    await caldav?.stop();
  });

  it('lists the three entries with their transport and isolation', async () => {
    const { body } = await admin.get('/functions/v1/mcp-servers');
    const byId = new Map(body.data.map((s: { id: string }) => [s.id, s]));
    for (const id of ['email-server', 'calendar-server', 'google-calendar-server'])
      expect(byId.get(id)).toMatchObject({ transport: 'stdio', isolation: 'sandbox' });
    const email = (await admin.get('/functions/v1/mcp-servers/email-server')).body;
    expect(email.config_schema.properties.imap_port.default).toBe(993);
    expect(email.credential_schema.properties.password.writeOnly).toBe(true);
  });

  it.each([
    [
      'a mail host that is a URL',
      { imap_host: 'imap://127.0.0.1' },
      'validation_failed',
      'config.imap_host is not a host name or IP address',
    ],
    [
      'a port no operator opened',
      { smtp_port: 25 },
      'egress_denied',
      'config.smtp_host names 127.0.0.1:25',
    ],
  ])('refuses an install with %s (400, nothing written)', async (_, override, error, message) => {
    const res = await admin.post('/functions/v1/mcp-connections/install', {
      mcp_server_id: 'email-server',
      account_id: 'acct-refused',
      title: 'Mail',
      config: { ...mailConfig(), ...override },
      provided_credential_schema: { username: ALICE.user, password: ALICE.password },
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(error);
    expect(res.body.message).toContain(message);
    const list = await admin.get('/functions/v1/mcp-connections?account_id=acct-refused');
    expect(list.body.data ?? list.body).toHaveLength(0);
  });

  it('installs email-server for two accounts; each reaches mcpRunning in its sandbox', async () => {
    aliceMail = (
      await admin.install({
        mcp_server_id: 'email-server',
        account_id: 'acct-alice',
        title: 'Alice mail',
        config: mailConfig(),
        provided_credential_schema: { username: ALICE.user, password: ALICE.password },
      })
    ).id;
    bobMail = (
      await admin.install({
        mcp_server_id: 'email-server',
        account_id: 'acct-bob',
        title: 'Bob mail',
        config: mailConfig(),
        provided_credential_schema: { username: BOB.user, password: BOB.password },
      })
    ).id;
    for (const id of [aliceMail, bobMail]) {
      const running = await waitForStatus(admin, id, 'mcpRunning', 60000);
      expect(running.isolation).toBe('bubblewrap');
      expect(JSON.stringify(running)).not.toContain(ALICE.password);
      expect(JSON.stringify(running)).not.toContain(BOB.password);
    }
  });

  it('sends a mail over MCP; the mail server delivers it and the other account reads it back', async () => {
    const subject = `Quarterly numbers ${randomBytes(4).toString('hex')}`;
    const alice = await mcp(aliceMail);
    const tools = (await alice.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(expect.arrayContaining(['send_email', 'search_by_subject']));
    const sent = await alice.callTool({
      name: 'send_email',
      arguments: { to: BOB.user, subject, text: 'They are up 12%.' },
    });
    expect(sent.isError).toBeFalsy();
    expect(resultText(sent)).toContain(BOB.user);

    // Read independently of the platform: the message is in Bob's mailbox on the IMAP server.
    const inbox = await eventually(
      async () => {
        const messages = await mail.fetchInbox(BOB.user, BOB.password);
        expect(messages.map((m) => m.subject)).toContain(subject);
        return messages;
      },
      { timeoutMs: 15000, intervalMs: 300 },
    );
    expect(inbox.find((m) => m.subject === subject)).toMatchObject({ from: ALICE.user });

    // And through Bob's own connection.
    const bob = await mcp(bobMail);
    const found = await bob.callTool({ name: 'search_by_subject', arguments: { subject } });
    expect(found.isError).toBeFalsy();
    expect(resultText(found)).toContain(subject);
    expect(resultText(found)).toContain('They are up 12%.');
  });

  it("is used by an agent run of Bob's account", async () => {
    model.play([
      () => ({ toolCalls: [{ name: '-get_recent_messages', arguments: { limit: 5 } }] }),
      (request) => ({ content: `Latest mail: ${lastToolResult(request).slice(0, 2000)}` }),
    ]);
    const run = await runAgent(admin, {
      account_id: 'acct-bob',
      messages: [{ role: 'user', content: 'What came in?' }],
    });
    expect(run).toMatchObject({ status: 'completed', error: null });
    expect(run.output).toContain('Quarterly numbers');
    expect(run.tool_calls).toEqual([
      expect.objectContaining({
        connection_id: bobMail,
        tool: 'get_recent_messages',
        is_error: false,
      }),
    ]);
  });

  it("a wrong mail password is the tool call's answer, and the password appears in no log line", async () => {
    const wrong = `pw-wrong-${randomBytes(8).toString('hex')}`;
    const { id } = await admin.install({
      mcp_server_id: 'email-server',
      account_id: 'acct-wrong',
      title: 'Wrong password',
      config: mailConfig(),
      provided_credential_schema: { username: ALICE.user, password: wrong },
    });
    await waitForStatus(admin, id, 'mcpRunning', 60000);
    const client = await mcp(id);
    const result = await client.callTool({ name: 'get_message_count', arguments: {} });
    // mcp-mail-server (on an early MCP SDK) answers a failure as text, without isError.
    expect(resultText(result)).toBe('Error: IMAP connection failed: Authentication failed.');
    const logs = await admin.get(`/functions/v1/mcp-connections/${id}/logs?tail=200`);
    expect(JSON.stringify(logs.body)).not.toContain(wrong);
  });

  it('installs calendar-server; it lists the calendar, creates an event the CalDAV server holds, and lists it', async () => {
    calendarUrl = await caldav.createCalendar(CAROL.user, CAROL.password, 'work');
    calendarId = (
      await admin.install({
        mcp_server_id: 'calendar-server',
        account_id: 'acct-carol',
        title: 'Work calendar',
        config: { caldav_url: caldav.baseUrl },
        provided_credential_schema: { username: CAROL.user, password: CAROL.password },
      })
    ).id;
    await waitForStatus(admin, calendarId, 'mcpRunning', 60000);
    const client = await mcp(calendarId);
    const calendars = await client.callTool({ name: 'list-calendars', arguments: {} });
    expect(resultText(calendars)).toContain('work');

    const summary = `Planning ${randomBytes(4).toString('hex')}`;
    const created = await client.callTool({
      name: 'create-event',
      arguments: {
        summary,
        start: '2026-12-07T10:00:00Z',
        end: '2026-12-07T11:00:00Z',
        calendarUrl,
      },
    });
    expect(created.isError).toBeFalsy();

    // Independently of the platform: the event is on the CalDAV server.
    const events = await caldav.listEvents(CAROL.user, CAROL.password, calendarUrl);
    expect(events.map((e) => e.summary)).toContain(summary);

    const listed = await client.callTool({
      name: 'list-events',
      arguments: { start: '2026-12-01T00:00:00Z', end: '2026-12-31T00:00:00Z', calendarUrl },
    });
    expect(resultText(listed)).toContain(summary);
  });

  it('a CalDAV password the server refuses puts the connection in mcpError', async () => {
    const { id } = await admin.install({
      mcp_server_id: 'calendar-server',
      account_id: 'acct-carol-wrong',
      title: 'Wrong calendar password',
      config: { caldav_url: caldav.baseUrl },
      provided_credential_schema: { username: CAROL.user, password: 'not-the-password' },
    });
    const failed = await waitForStatus(admin, id, 'mcpError', 90000);
    // caldav-mcp checks its login at start and exits; the reason carries its own output.
    expect(failed.status_reason).toContain('The server exited with code 1');
    expect(failed.status_reason).toContain('status: 401');
  });

  it('google-calendar-server starts from its credential files and lists its tools; with no route to Google a call is an error, not a crash', async () => {
    const { id } = await admin.install({
      mcp_server_id: 'google-calendar-server',
      account_id: 'acct-google',
      title: 'Google Calendar',
      provided_credential_schema: {
        google_oauth_client: JSON.stringify({
          installed: {
            client_id: 'test.apps.googleusercontent.com',
            client_secret: `secret-${randomBytes(8).toString('hex')}`,
            redirect_uris: ['http://localhost'],
          },
        }),
        google_tokens: JSON.stringify({
          normal: {
            access_token: 'ya29.test',
            refresh_token: '1//test',
            token_type: 'Bearer',
            scope: 'https://www.googleapis.com/auth/calendar',
            expiry_date: Date.now() + 3600_000,
          },
        }),
      },
    });
    await waitForStatus(admin, id, 'mcpRunning', 60000);
    const client = await mcp(id);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toEqual(
      expect.arrayContaining(['list-calendars', 'create-event', 'list-events']),
    );
    const result = await client.callTool({ name: 'list-calendars', arguments: {} });
    expect(result.isError).toBe(true);
    // Its only ways out are Google's API hosts, resolved by the platform (no DNS answer here).
    const logs = await admin.get(`/functions/v1/mcp-connections/${id}/logs?tail=50`);
    expect(logs.body.data.map((l: { line: string }) => l.line)).toContain(
      'Egress refused: www.googleapis.com:443: www.googleapis.com could not be resolved (ENOTFOUND)',
    );
    expect((await admin.get(`/functions/v1/mcp-connections/${id}`)).body.status).toBe('mcpRunning');
  });
});
