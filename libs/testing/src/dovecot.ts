import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type Daemon,
  DaemonExitedError,
  freeLoopbackPorts,
  greets,
  type LocalUser,
  spawnDaemon,
  stopDaemon,
  waitForProcessesGone,
  waitUntilReady,
} from './local-daemon';

const DOVECOT = '/usr/sbin/dovecot';
/** nobody/nogroup: mail is stored as an unprivileged user, never as root. */
const MAIL_UID = 65534;
const MAIL_GID = 65534;
/** A port another process took between our pick and Dovecot's bind: pick again this often. */
const BIND_ATTEMPTS = 3;

export interface Dovecot {
  daemon: Daemon;
  imapPort: number;
  lmtpPort: number;
  /** The tail of Dovecot's own log file and of its stdout/stderr, for error messages. */
  logTail(): string;
  /** SIGTERM to the master, waits for it and every process of this instance to exit. */
  stop(): Promise<void>;
}

/**
 * A real Dovecot (IMAP and LMTP) as its own master process in the foreground, configured only by
 * `<dir>/dovecot.conf` (the machine's /etc/dovecot is never read), everything else under `dir`.
 * `dir` must be empty apart from what this writes; its basename names the instance, so its
 * processes can be told from another test's.
 */
export async function startDovecot(dir: string, users: readonly LocalUser[]): Promise<Dovecot> {
  if (!fs.existsSync(DOVECOT)) {
    throw new Error(
      `${DOVECOT} is missing: install dovecot-imapd and dovecot-lmtpd (bash scripts/setup.sh does)`,
    );
  }
  const instance = path.basename(dir);
  // The login and auth processes run as Dovecot's unprivileged users and the mail processes as
  // nobody: each must reach its files under dir.
  fs.chmodSync(dir, 0o755);
  for (const sub of ['run', 'state']) fs.mkdirSync(path.join(dir, sub));
  const mailDir = path.join(dir, 'mail');
  fs.mkdirSync(mailDir, { mode: 0o700 });
  fs.chownSync(mailDir, MAIL_UID, MAIL_GID);
  const passwd = path.join(dir, 'passwd');
  // Read by the auth process, which runs as the dovecot user. Test passwords only.
  fs.writeFileSync(passwd, users.map((u) => `${u.user}:{PLAIN}${u.password}\n`).join(''), {
    mode: 0o644,
  });
  const logPath = path.join(dir, 'dovecot.log');

  for (let attempt = 1; ; attempt++) {
    const [imapPort, lmtpPort] = await freeLoopbackPorts(2);
    const configPath = path.join(dir, 'dovecot.conf');
    fs.writeFileSync(
      configPath,
      dovecotConfig({ dir, instance, passwd, logPath, imapPort, lmtpPort }),
    );
    const daemon = spawnDaemon(DOVECOT, ['-F', '-c', configPath]);
    const logTail = () => `${tailOfFile(logPath)}\n${daemon.output()}`.trim();
    const stop = async () => {
      await stopDaemon(daemon);
      await waitForProcessesGone(instance);
    };
    try {
      await waitUntilReady(
        `Dovecot (IMAP on 127.0.0.1:${imapPort}, LMTP on 127.0.0.1:${lmtpPort})`,
        daemon,
        // The greetings, not only a connect: Dovecot greets once its auth service is up, and a
        // stop while its first processes still start up can take seconds.
        async () => (await greets(imapPort, /^\* OK/)) && (await greets(lmtpPort, /^220 /)),
        logTail,
      );
      return { daemon, imapPort, lmtpPort, logTail, stop };
    } catch (error) {
      await stop();
      const portTaken =
        error instanceof DaemonExitedError && /address already in use/i.test(error.detail);
      if (!portTaken || attempt >= BIND_ATTEMPTS) throw error;
    }
  }
}

interface ConfigInput {
  dir: string;
  instance: string;
  passwd: string;
  logPath: string;
  imapPort: number;
  lmtpPort: number;
}

function dovecotConfig(c: ConfigInput): string {
  return `# Written by @athenic/testing for one test's mail server; nothing else is included.
instance_name = ${c.instance}
base_dir = ${c.dir}/run
state_dir = ${c.dir}/state
log_path = ${c.logPath}
listen = 127.0.0.1
protocols = imap lmtp
# Plain IMAP and LOGIN on loopback, as a mail client configured without TLS would use them.
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests try wrong passwords on purpose; the default 2 s penalty would only slow them down.
auth_failure_delay = 0
first_valid_uid = ${MAIL_UID}
last_valid_uid = ${MAIL_UID}
first_valid_gid = ${MAIL_GID}
last_valid_gid = ${MAIL_GID}
mail_location = maildir:~/Maildir
# No statistics (nothing reads them): a process that is still starting when the instance stops
# would wait up to 5 s for the stats service's handshake, and the master with it.
stats_writer_socket_path =

passdb {
  driver = passwd-file
  args = scheme=PLAIN ${c.passwd}
}
# Static, without allow_all_users: a user lookup (LMTP's RCPT) also asks the passdb, so mail to
# an unknown user is refused rather than stored.
userdb {
  driver = static
  args = uid=${MAIL_UID} gid=${MAIL_GID} home=${c.dir}/mail/%u
}

namespace inbox {
  inbox = yes
  # mcp-mail-server keeps a copy of what it sends in "Sent".
  mailbox Sent {
    auto = subscribe
    special_use = \\Sent
  }
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${c.imapPort}
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${c.lmtpPort}
  }
}
`;
}

/** The last lines of a file, or a note that it is not there (yet). */
function tailOfFile(file: string, lines = 30): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return `(${path.basename(file)}: not written)`;
  }
}
