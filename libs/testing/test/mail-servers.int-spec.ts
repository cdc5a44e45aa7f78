import {
  type CalDavServer,
  type MailServer,
  processes,
  startCalDavServer,
  startMailServer,
} from '@athenic/testing';
import { ImapFlow } from 'imapflow';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createTransport } from 'nodemailer';

const alice = { user: 'alice@example.test', password: 'alice-secret' };
const bob = { user: 'bob@example.test', password: 'bob-secret' };
const carol = { user: 'carol', password: 'carol-secret' };

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose command line names the server's temp dir (Dovecot's titles carry it too). */
function processesOf(dir: string): number[] {
  const marker = path.basename(dir);
  return processes((p) => p.pid !== process.pid && p.argv.join(' ').includes(marker)).map(
    (p) => p.pid,
  );
}

describe('local mail server (Dovecot IMAP and LMTP, SMTP relay)', () => {
  let mail: MailServer;

  beforeAll(async () => {
    mail = await startMailServer([alice, bob]);
  });

  afterAll(async () => {
    await mail?.stop();
  });

  function smtpAs(user: string, pass: string) {
    return createTransport({
      host: mail.host,
      port: mail.smtpPort,
      secure: false,
      ignoreTLS: true,
      auth: { user, pass },
    });
  }

  it('delivers a mail sent over SMTP to the recipient, who reads it over IMAP', async () => {
    const info = await smtpAs(alice.user, alice.password).sendMail({
      from: alice.user,
      to: bob.user,
      subject: 'Lunch on Friday?',
      text: 'The usual place, at noon.',
    });
    expect(info.accepted).toEqual([bob.user]);
    expect(await mail.fetchInbox(bob.user, bob.password)).toEqual([
      {
        subject: 'Lunch on Friday?',
        from: alice.user,
        to: bob.user,
        text: 'The usual place, at noon.\n',
      },
    ]);
    expect(await mail.fetchInbox(alice.user, alice.password)).toEqual([]);
  });

  it('has a Sent mailbox for each user', async () => {
    const client = new ImapFlow({
      host: mail.host,
      port: mail.imapPort,
      secure: false,
      auth: { user: alice.user, pass: alice.password },
      logger: false,
    });
    await client.connect();
    try {
      const sent = (await client.list()).find((m) => m.specialUse === '\\Sent');
      expect(sent?.path).toBe('Sent');
    } finally {
      await client.logout();
    }
  });

  it('refuses a wrong password over SMTP and over IMAP', async () => {
    await expect(
      smtpAs(alice.user, 'wrong').sendMail({ from: alice.user, to: bob.user, text: 'x' }),
    ).rejects.toMatchObject({ code: 'EAUTH', responseCode: 535 });
    await expect(mail.fetchInbox(bob.user, 'wrong')).rejects.toMatchObject({
      authenticationFailed: true,
    });
  });

  it('refuses a recipient that has no mailbox here', async () => {
    await expect(
      smtpAs(alice.user, alice.password).sendMail({
        from: alice.user,
        to: 'mallory@elsewhere.test',
        text: 'x',
      }),
    ).rejects.toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
  });

  it('stops Dovecot and every process of it, and removes its temp dir', async () => {
    const { dir, dovecotPid } = mail;
    expect(existsSync(dir)).toBe(true);
    expect(processesOf(dir).length).toBeGreaterThan(1);
    await mail.stop();
    expect(alive(dovecotPid)).toBe(false);
    expect(processesOf(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('local mail server whose Dovecot is down', () => {
  let mail: MailServer;

  beforeAll(async () => {
    mail = await startMailServer([alice, bob]);
  });

  afterAll(async () => {
    await mail?.stop();
  });

  it('answers the sender 451 (try again later) when LMTP cannot take the message', async () => {
    process.kill(mail.dovecotPid, 'SIGTERM');
    while (alive(mail.dovecotPid)) await new Promise((resolve) => setTimeout(resolve, 50));
    const transport = createTransport({
      host: mail.host,
      port: mail.smtpPort,
      secure: false,
      ignoreTLS: true,
      auth: { user: alice.user, pass: alice.password },
    });
    await expect(
      transport.sendMail({ from: alice.user, to: bob.user, subject: 'Lost?', text: 'x' }),
    ).rejects.toMatchObject({ code: 'EMESSAGE', responseCode: 451 });
    // stop() still cleans up after a Dovecot that is gone already.
    await mail.stop();
    expect(processesOf(mail.dir)).toEqual([]);
    expect(existsSync(mail.dir)).toBe(false);
  });
});

describe('local CalDAV server (Radicale)', () => {
  let caldav: CalDavServer;

  beforeAll(async () => {
    caldav = await startCalDavServer([carol]);
  });

  afterAll(async () => {
    await caldav?.stop();
  });

  const auth = (password: string) =>
    `Basic ${Buffer.from(`${carol.user}:${password}`).toString('base64')}`;

  it('stores an event PUT into a calendar it made, and lists it', async () => {
    const calendarUrl = await caldav.createCalendar(carol.user, carol.password, 'work');
    expect(calendarUrl).toBe(`${caldav.baseUrl}carol/work/`);
    const ics = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'PRODID:-//athenic//test//EN',
      'BEGIN:VEVENT',
      'UID:standup-1@example.test',
      'DTSTAMP:20260101T090000Z',
      'DTSTART:20260105T100000Z',
      'DTEND:20260105T101500Z',
      // A folded line and an escaped comma, as clients write them.
      'SUMMARY:Stand-up\\, with the whole tea',
      ' m',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    const put = await fetch(`${calendarUrl}standup-1.ics`, {
      method: 'PUT',
      headers: { authorization: auth(carol.password), 'content-type': 'text/calendar' },
      body: ics,
    });
    expect(put.status).toBe(201);
    expect(await caldav.listEvents(carol.user, carol.password, calendarUrl)).toEqual([
      {
        uid: 'standup-1@example.test',
        summary: 'Stand-up, with the whole team',
        start: '20260105T100000Z',
      },
    ]);
  });

  it('answers a wrong password with 401', async () => {
    const res = await fetch(caldav.baseUrl, {
      method: 'PROPFIND',
      headers: { authorization: auth('wrong'), depth: '0' },
    });
    await res.arrayBuffer();
    expect(res.status).toBe(401);
    await expect(
      caldav.listEvents(carol.user, 'wrong', `${caldav.baseUrl}carol/work/`),
    ).rejects.toThrow(/401/);
  });

  it('stops Radicale and removes its temp dir', async () => {
    const { dir, pid } = caldav;
    expect(existsSync(dir)).toBe(true);
    await caldav.stop();
    expect(alive(pid)).toBe(false);
    expect(processesOf(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});
