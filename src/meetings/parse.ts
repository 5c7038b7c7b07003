import * as chrono from 'chrono-node';
import { isValidTimeZone, zoneOffsetMinutes } from './time.js';

export { isValidTimeZone, zoneOffsetMinutes } from './time.js';

export interface ParsedSchedule {
  title: string;
  start: Date;
  end: Date;
  /** The IANA zone the times were read in. */
  timeZone: string;
  durationMinutes: number;
  /** The words that asked for no recording, when the user tried; recording stays on anyway. */
  recordingOffRequest?: string;
}

export type ParseResult = { ok: true; value: ParsedSchedule } | { ok: false; error: string };

export interface ParseOptions {
  now: Date;
  /** The user's zone from Teams when known, otherwise the configured default. */
  timeZone: string;
  defaultDurationMinutes?: number;
}

export const SCHEDULE_EXAMPLE = 'schedule "Biology 101 – Week 3" tomorrow 10:00 for 60 min';

const DURATION =
  /\bfor\s+(\d+(?:[.,]\d+)?)\s*(h|hrs?|hours?|m|mins?|minutes?)\b(?:\s*(?:and\s*)?(\d+)\s*(m|mins?|minutes?)\b)?|\bfor\s+(\d{1,2}):(\d{2})\b/i;
const RECORDING_OFF =
  /(--no-record(?:ing)?|\bno[- ]record(?:ing)?\b|\bwithout (?:a )?record(?:ing)?\b|\b(?:don'?t|do not) record\b|\brecord(?:ing)?\s*(?:[:=]\s*)?(?:off|false|no|disabled?)\b)/i;
const QUOTED = /["“”'‘’«»]([^"“”'‘’«»]+)["“”'‘’«»]/;

/**
 * Reads a typed scheduling command: a title (quoted, or the words before the date), a date and
 * time in the user's zone (relative dates, 12/24-hour times), and a duration. Forgiving about
 * wording; strict about the result (a future time, a sane duration).
 */
export function parseScheduleCommand(text: string, options: ParseOptions): ParseResult {
  const input = text.replace(/^\s*(?:@\S+\s+)?schedule\b[:\s]*/i, '').trim();
  if (!input)
    return { ok: false, error: `Tell me what and when. For example: ${SCHEDULE_EXAMPLE}` };
  if (!isValidTimeZone(options.timeZone))
    return { ok: false, error: `I don't know the time zone "${options.timeZone}".` };

  let rest = input;
  const off = RECORDING_OFF.exec(rest);
  if (off) rest = rest.replace(off[0], ' ');

  let durationMinutes = options.defaultDurationMinutes ?? 60;
  const d = DURATION.exec(rest);
  if (d) {
    if (d[5] !== undefined) {
      durationMinutes = Number(d[5]) * 60 + Number(d[6]);
    } else {
      const n = Number(d[1]!.replace(',', '.'));
      durationMinutes = /^h/i.test(d[2]!) ? n * 60 : n;
      if (d[3]) durationMinutes += Number(d[3]);
    }
    rest = rest.replace(d[0], ' ');
  }
  durationMinutes = Math.round(durationMinutes);
  if (!(durationMinutes >= 5 && durationMinutes <= 24 * 60)) {
    return {
      ok: false,
      error: 'A class can last from 5 minutes to 24 hours. For example: for 90 min',
    };
  }

  let title: string | undefined;
  const q = QUOTED.exec(rest);
  if (q) {
    title = q[1]!.trim();
    rest = rest.replace(q[0], ' ');
  }

  // Read the date in the user's zone: the offset at "now" first, then at the found date, so a
  // class across a daylight-saving change still lands on the wall-clock time typed.
  const parseAt = (offset: number) =>
    chrono.parse(rest, { instant: options.now, timezone: offset }, { forwardDate: true })[0];
  let found = parseAt(zoneOffsetMinutes(options.timeZone, options.now));
  if (found) {
    const offsetThere = zoneOffsetMinutes(options.timeZone, found.start.date());
    if (offsetThere !== zoneOffsetMinutes(options.timeZone, options.now))
      found = parseAt(offsetThere) ?? found;
  }
  if (!found || !found.start.isCertain('hour')) {
    return {
      ok: false,
      error: `I couldn't find a date and time in that. For example: ${SCHEDULE_EXAMPLE}`,
    };
  }
  if (!title)
    title = rest
      .slice(0, found.index)
      .replace(/\b(on|at)\s*$/i, '')
      .trim();
  title = title.replace(/\s+/g, ' ').trim();
  if (!title)
    return {
      ok: false,
      error: `What is the class called? Put the title in quotes, like: ${SCHEDULE_EXAMPLE}`,
    };
  if (title.length > 200)
    return { ok: false, error: 'The title is too long (200 characters at most).' };

  const start = found.start.date();
  if (start.getTime() <= options.now.getTime()) {
    return { ok: false, error: 'That time has already passed. Pick a time in the future.' };
  }
  return {
    ok: true,
    value: {
      title,
      start,
      end: new Date(start.getTime() + durationMinutes * 60_000),
      timeZone: options.timeZone,
      durationMinutes,
      ...(off ? { recordingOffRequest: off[0].trim() } : {}),
    },
  };
}
