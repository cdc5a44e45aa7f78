export interface CalendarEvent {
  uid: string;
  summary: string;
  /** DTSTART's value as written in the iCalendar text (e.g. `20260105T100000Z`). */
  start: string;
}

/**
 * The VEVENTs of an iCalendar text (RFC 5545), enough for a test to check what a client stored:
 * lines unfolded, property parameters dropped, TEXT escapes undone in SUMMARY.
 */
export function parseCalendarEvents(ics: string): CalendarEvent[] {
  // A line starting with a space or tab continues the previous one.
  const lines = ics.replace(/\r?\n[ \t]/g, '').split(/\r?\n/);
  const events: CalendarEvent[] = [];
  let event: Map<string, string> | undefined;
  // Components inside the event (VALARM): their properties are not the event's.
  let nested = 0;
  for (const line of lines) {
    if (!event) {
      if (line === 'BEGIN:VEVENT') event = new Map();
      continue;
    }
    if (line.startsWith('BEGIN:')) nested++;
    else if (line.startsWith('END:') && nested > 0) nested--;
    else if (line === 'END:VEVENT') {
      events.push({
        uid: event.get('UID') ?? '',
        summary: unescapeText(event.get('SUMMARY') ?? ''),
        start: event.get('DTSTART') ?? '',
      });
      event = undefined;
    } else if (nested === 0) {
      // NAME;PARAM=...:VALUE, where a quoted parameter value may hold a ':'.
      const match = /^([A-Za-z0-9-]+)(?:;(?:[^:"]|"[^"]*")*)?:(.*)$/.exec(line);
      if (match) event.set(match[1].toUpperCase(), match[2]);
    }
  }
  return events;
}

function unescapeText(value: string): string {
  return value.replace(/\\([\\;,nN])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c));
}
