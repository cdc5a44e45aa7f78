import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type CalendarEvent, parseCalendarEvents } from './icalendar';
import {
  checkUsers,
  type Daemon,
  DaemonExitedError,
  freeLoopbackPorts,
  type LocalUser,
  spawnDaemon,
  stopDaemon,
  waitUntilReady,
} from './local-daemon';

const RADICALE = '/usr/bin/radicale';
const BIND_ATTEMPTS = 3;

export type { CalendarEvent };

export interface CalDavServer {
  port: number;
  /** `http://127.0.0.1:<port>/`, for CALDAV_BASE_URL. */
  baseUrl: string;
  /** The temp dir the collections and the users file live in (gone after stop). */
  dir: string;
  /** Radicale's process. */
  pid: number;
  /** Makes `/<user>/<name>/` a calendar (MKCALENDAR as that user); returns its absolute URL. */
  createCalendar(user: string, password: string, name: string): Promise<string>;
  /** The events in a calendar, read with a CalDAV calendar-query REPORT as that user. */
  listEvents(user: string, password: string, calendarUrl: string): Promise<CalendarEvent[]>;
  /** Ends Radicale and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * A real CalDAV server on loopback for end-to-end tests: Radicale with only its command-line
 * settings (no config file is read), users from a plain htpasswd file, each user allowed only
 * their own collections (`/<user>/...`). Call stop() in afterAll.
 */
export async function startCalDavServer(users: readonly LocalUser[]): Promise<CalDavServer> {
  checkUsers('startCalDavServer', users);
  if (!fs.existsSync(RADICALE)) {
    throw new Error(`${RADICALE} is missing: install radicale (bash scripts/setup.sh does)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'athenic-caldav-'));
  const usersFile = path.join(dir, 'users');
  fs.writeFileSync(usersFile, users.map((u) => `${u.user}:${u.password}\n`).join(''), {
    mode: 0o600,
  });
  let daemon: Daemon | undefined;
  let port = 0;
  try {
    for (let attempt = 1; !daemon; attempt++) {
      [port] = await freeLoopbackPorts(1);
      const started = startRadicale(dir, usersFile, port);
      const baseUrl = `http://127.0.0.1:${port}/`;
      try {
        await waitUntilReady(
          `Radicale on 127.0.0.1:${port}`,
          started,
          async () => (await propfind(baseUrl, users[0]).catch(() => 0)) === 207,
          started.output,
        );
        daemon = started;
      } catch (error) {
        await stopDaemon(started);
        const portTaken =
          error instanceof DaemonExitedError && /address already in use/i.test(error.detail);
        if (!portTaken || attempt >= BIND_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const running = daemon;
  const baseUrl = `http://127.0.0.1:${port}/`;
  let stopped: Promise<void> | undefined;
  return {
    port,
    baseUrl,
    dir,
    pid: running.child.pid!,
    createCalendar: (user, password, name) => createCalendar(baseUrl, { user, password }, name),
    listEvents: (user, password, url) => listEvents({ user, password }, url),
    stop: () =>
      (stopped ??= (async () => {
        await stopDaemon(running);
        fs.rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

function startRadicale(dir: string, usersFile: string, port: number): Daemon {
  const args = [
    // An empty list: neither /etc/radicale/config nor ~/.config/radicale is read.
    '--config',
    '',
    '--server-hosts',
    `127.0.0.1:${port}`,
    '--storage-filesystem-folder',
    path.join(dir, 'collections'),
    '--auth-type',
    'htpasswd',
    '--auth-htpasswd-filename',
    usersFile,
    '--auth-htpasswd-encryption',
    'plain',
    '--rights-type',
    'owner_only',
    // Tests try wrong passwords on purpose; Radicale's default ~1 s penalty would only slow them.
    '--auth-delay',
    '0',
    // Requests and failed logins on stderr (passwords are masked by default), for errors.
    '--logging-level',
    'info',
  ];
  // Debian's python (the script's shebang) with a clean environment: pyenv's or a virtualenv's
  // variables must not leak into it.
  return spawnDaemon(RADICALE, args, { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8' });
}

function basicAuth({ user, password }: LocalUser): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function propfind(url: string, as: LocalUser): Promise<number> {
  const res = await fetch(url, {
    method: 'PROPFIND',
    headers: { authorization: basicAuth(as), depth: '0' },
  });
  await res.arrayBuffer();
  return res.status;
}

async function createCalendar(baseUrl: string, as: LocalUser, name: string): Promise<string> {
  const url = new URL(`${encodeURIComponent(as.user)}/${encodeURIComponent(name)}/`, baseUrl);
  const body = `<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop>
    <D:displayname>${escapeXml(name)}</D:displayname>
    <C:supported-calendar-component-set><C:comp name="VEVENT"/><C:comp name="VTODO"/></C:supported-calendar-component-set>
  </D:prop></D:set>
</C:mkcalendar>`;
  const res = await fetch(url, {
    method: 'MKCALENDAR',
    headers: { authorization: basicAuth(as), 'content-type': 'application/xml; charset=utf-8' },
    body,
  });
  const text = await res.text();
  if (res.status !== 201) {
    throw new Error(`MKCALENDAR ${url.href} as ${as.user}: ${res.status} ${text.slice(0, 500)}`);
  }
  return url.href;
}

async function listEvents(as: LocalUser, calendarUrl: string): Promise<CalendarEvent[]> {
  const body = `<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>
</C:calendar-query>`;
  const res = await fetch(calendarUrl, {
    method: 'REPORT',
    headers: {
      authorization: basicAuth(as),
      depth: '1',
      'content-type': 'application/xml; charset=utf-8',
    },
    body,
  });
  const text = await res.text();
  if (res.status !== 207) {
    throw new Error(`REPORT ${calendarUrl} as ${as.user}: ${res.status} ${text.slice(0, 500)}`);
  }
  const calendars = [
    ...text.matchAll(/<(?:\w+:)?calendar-data[^>]*>([\s\S]*?)<\/(?:\w+:)?calendar-data>/g),
  ];
  return calendars.flatMap((match) => parseCalendarEvents(unescapeXml(match[1])));
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function unescapeXml(text: string): string {
  return text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
