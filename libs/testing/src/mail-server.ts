import { ImapFlow } from 'imapflow';
import { type AddressObject, simpleParser } from 'mailparser';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Dovecot, startDovecot } from './dovecot';
import { checkUsers, greets, type LocalUser } from './local-daemon';
import { type SmtpRelay, startSmtpRelay } from './smtp-relay';

export interface InboxMessage {
  subject: string;
  /** The From address (the first one). */
  from: string;
  /** The To addresses, comma-separated. */
  to: string;
  /** The plain-text body. */
  text: string;
}

export interface MailServer {
  host: '127.0.0.1';
  /** Plain IMAP (no TLS, LOGIN allowed): IMAP_HOST/IMAP_PORT with IMAP_SECURE=false. */
  imapPort: number;
  /** Plain SMTP with AUTH (no STARTTLS): SMTP_HOST/SMTP_PORT with SMTP_SECURE=false. */
  smtpPort: number;
  /** The temp dir everything lives in (gone after stop). */
  dir: string;
  /** Dovecot's master process. */
  dovecotPid: number;
  /** The INBOX of one user, read over IMAP as a mail client would (oldest first). */
  fetchInbox(user: string, password: string): Promise<InboxMessage[]>;
  /** Ends Dovecot and the SMTP server and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Real mail servers on loopback for end-to-end tests: Dovecot for IMAP (and LMTP), and an SMTP
 * server that takes mail from and for `users` only and delivers it through Dovecot's LMTP, so
 * a message sent over SMTP can be read over IMAP. `user` is the full address
 * (`alice@example.test`), both the login and the mailbox. Call stop() in afterAll.
 */
export async function startMailServer(users: readonly LocalUser[]): Promise<MailServer> {
  checkUsers('startMailServer', users);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'athenic-mail-'));
  let dovecot: Dovecot | undefined;
  let smtp: SmtpRelay | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await smtp?.stop();
      await dovecot?.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  try {
    dovecot = await startDovecot(dir, users);
    smtp = await startSmtpRelay(users, dovecot.lmtpPort);
    // Ready once it greets; a loaded machine may take a moment.
    const deadline = Date.now() + 15_000;
    while (!(await greets(smtp.port, /^220 /, 3000))) {
      if (Date.now() > deadline)
        throw new Error(`the SMTP server does not greet on 127.0.0.1:${smtp.port}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const imapPort = dovecot.imapPort;
  return {
    host: '127.0.0.1',
    imapPort,
    smtpPort: smtp.port,
    dir,
    dovecotPid: dovecot.daemon.child.pid!,
    fetchInbox: (user, password) => fetchInbox(imapPort, user, password),
    stop,
  };
}

async function fetchInbox(port: number, user: string, password: string): Promise<InboxMessage[]> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: password },
    logger: false,
    disableAutoIdle: true,
  });
  // A failed login rejects connect() with the server's answer; nothing to log out from then.
  await client.connect();
  try {
    const lock = await client.getMailboxLock('INBOX');
    try {
      const messages = await client.fetchAll('1:*', { source: true });
      return await Promise.all(messages.map((m) => parse(m.source!)));
    } finally {
      lock.release();
    }
  } finally {
    await client.logout().catch(() => client.close());
  }
}

async function parse(source: Buffer): Promise<InboxMessage> {
  const mail = await simpleParser(source);
  return {
    subject: mail.subject ?? '',
    from: mail.from?.value[0]?.address ?? '',
    to: addresses(mail.to).join(', '),
    text: mail.text ?? '',
  };
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const objects = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return objects.flatMap((o) => o.value.map((a) => a.address ?? '')).filter(Boolean);
}
