/** The calendar fields of an instant as seen in an IANA zone (24-hour clock). */
export interface ZonedParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

export function zonedParts(at: Date, zone: string): ZonedParts {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const get = (t: string): string => parts.find((p) => p.type === t)!.value;
  return {
    year: get('year'),
    month: get('month'),
    day: get('day'),
    hour: get('hour'),
    minute: get('minute'),
    second: get('second'),
  };
}

/** Offset of `zone` from UTC at `at`, in minutes (positive east of Greenwich). */
export function zoneOffsetMinutes(zone: string, at: Date): number {
  const p = zonedParts(at, zone);
  const asUtc = Date.UTC(
    Number(p.year),
    Number(p.month) - 1,
    Number(p.day),
    Number(p.hour),
    Number(p.minute),
  );
  return Math.round((asUtc - Math.floor(at.getTime() / 60_000) * 60_000) / 60_000);
}

/** An instant as the wall-clock `YYYY-MM-DDTHH:mm:ss` in `zone`, the form Graph events take. */
export function wallClock(at: Date, zone: string): string {
  const p = zonedParts(at, zone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}

export function isValidTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false; // RangeError: not a zone this runtime knows
  }
}

/** The instant a wall-clock date (`YYYY-MM-DD`) and time (`HH:mm`) denote in `zone`. */
export function fromWallClock(date: string, time: string, zone: string): Date | undefined {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const t = /^(\d{2}):(\d{2})(?::\d{2})?$/.exec(time);
  if (!d || !t) return undefined;
  const naive = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]), Number(t[1]), Number(t[2]));
  if (Number.isNaN(naive) || Number(t[1]) > 23 || Number(t[2]) > 59) return undefined;
  // Two passes: the offset at the guess, then at the result, so DST changes land right.
  let at = new Date(naive - zoneOffsetMinutes(zone, new Date(naive)) * 60_000);
  at = new Date(naive - zoneOffsetMinutes(zone, at) * 60_000);
  return wallClock(at, zone).startsWith(`${date}T${t[1]}:${t[2]}`) ? at : undefined;
}

/** A meeting time for people: "Mon, 2 Mar 2030, 10:00 CET", in the class zone. */
export function formatWhen(at: Date, zone: string): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: zone,
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  }).format(at);
}
