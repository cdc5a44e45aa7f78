import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import type { LocalUser } from './local-daemon';

/** Larger messages get 552 (a mail client's attachments fit comfortably below). */
export const MAX_MESSAGE_BYTES = 10 * 1024 * 1024;

export interface SmtpRelay {
  port: number;
  stop(): Promise<void>;
}

/**
 * A submission server (nodemailer's smtp-server) on 127.0.0.1 that takes mail only from the
 * given users (AUTH PLAIN or LOGIN, without TLS: plain SMTP on loopback) and only for them, and
 * hands each message to Dovecot over LMTP before it answers the sender: a 250 means the message
 * is in the recipients' mailboxes, an LMTP failure is a 451 to the sender.
 */
export async function startSmtpRelay(
  users: readonly LocalUser[],
  lmtpPort: number,
): Promise<SmtpRelay> {
  const passwords = new Map(users.map((u) => [u.user.toLowerCase(), u.password]));
  const server = new SMTPServer({
    name: 'localhost',
    authOptional: false,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disabledCommands: ['STARTTLS'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    // No reverse DNS of 127.0.0.1 before the greeting: on a machine without a resolver that
    // waits up to 1.5 s per connection (smtp-server's own timeout).
    disableReverseLookup: true,
    // stop() waits this long for clients still connected, then closes their connections.
    closeTimeout: 5000,
    onAuth(auth, _session, callback) {
      const expected = passwords.get((auth.username ?? '').toLowerCase());
      if (expected === undefined || auth.password !== expected) {
        return callback(smtpError(535, 'Authentication failed: wrong user name or password'));
      }
      callback(null, { user: auth.username });
    },
    onRcptTo(address, _session, callback) {
      if (!passwords.has(address.address.toLowerCase())) {
        return callback(
          smtpError(550, `<${address.address}>: no such local mailbox, relaying denied`),
        );
      }
      callback();
    },
    onData(stream, session, callback) {
      readMessage(stream)
        .then((message) => {
          if (stream.sizeExceeded) {
            throw smtpError(552, `Message larger than ${MAX_MESSAGE_BYTES} bytes`);
          }
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          const to = session.envelope.rcptTo.map((r) => r.address);
          return deliverOverLmtp(lmtpPort, from, to, message);
        })
        .then(
          () => callback(null, 'Delivered'),
          (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
        );
    },
  });
  server.on('error', () => {
    // Per-connection errors (a client that hangs up) are answered or logged by smtp-server
    // itself; without a listener they would be thrown.
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: (server.server.address() as AddressInfo).port,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function readMessage(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** One LMTP session to Dovecot; resolves only when every recipient's delivery was accepted. */
function deliverOverLmtp(port: number, from: string, to: string[], message: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const connection = new SMTPConnection({
      host: '127.0.0.1',
      port,
      lmtp: true,
      secure: false,
      ignoreTLS: true,
      name: 'localhost',
      connectionTimeout: 10000,
      socketTimeout: 30000,
    });
    let settled = false;
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      connection.close();
      reject(smtpError(451, `Local delivery failed, try again later (LMTP: ${reason})`));
    };
    // on, not once: a late error after QUIT must still have a listener (it would be thrown).
    connection.on('error', (error: Error) => fail(error.message));
    connection.connect(() => {
      connection.send({ from, to }, message, (error, info) => {
        if (error) return fail(error.message);
        if (info.rejected.length > 0) {
          const reasons = (info.rejectedErrors ?? []).map((e) => e.message);
          return fail(`refused for ${info.rejected.join(', ')}: ${reasons.join('; ')}`);
        }
        settled = true;
        connection.quit();
        resolve();
      });
    });
  });
}

function smtpError(responseCode: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode });
}
