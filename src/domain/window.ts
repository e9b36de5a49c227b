// Scheduled windows: "from 22:00 for 2h". A start time as people write it, read in the requester's own
// time zone, and the rules of a window: access begins at its start (never before), ends at its end
// (never after, however late it started), and a request nobody approved by the start lapses.
// Pure: the clock and the time zone come in as arguments.
import { parseDuration } from './duration.js';
import { badInput } from './errors.js';

/** A start as typed: `22:00`, `9:30`, `tomorrow 09:00`, `2026-12-01 22:00`, `2026-12-01T22:00`, `+2h`. */
export const START_EXAMPLES = '`from 22:00`, `from tomorrow 9:00`, `from 2026-12-01 22:00` or `from +2h`';

const CLOCK = /^([01]?\d|2[0-3])[:.h]([0-5]\d)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ]([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?(Z|[+-]\d{2}:?\d{2})?$/i;

/** Offset of `timeZone` from UTC at `at`, in ms (positive east of Greenwich). */
function offsetMs(timeZone: string, at: number): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return wall - (at - (at % 1000));
}

/** The instant a wall-clock time in `timeZone` names (the later one when clocks repeat an hour). */
export function zonedTime(
  timeZone: string,
  wall: { year: number; month: number; day: number; hour: number; minute: number; second?: number },
): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second ?? 0);
  // Two passes settle the offset across a daylight-saving change between the guess and the answer.
  let at = asUtc - offsetMs(timeZone, asUtc);
  at = asUtc - offsetMs(timeZone, at);
  return at;
}

/** Year, month, day of an instant in `timeZone`. */
function dateIn(timeZone: string, at: number): { year: number; month: number; day: number } {
  const shifted = new Date(at + offsetMs(timeZone, at));
  return { year: shifted.getUTCFullYear(), month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate() };
}

/** Whether the runtime knows this IANA zone (Slack sends e.g. `Europe/Berlin`). */
export function knownTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The instant a typed start names, for a person in `timeZone` at `now`. A bare time is its next
 * occurrence (today, or tomorrow once it has passed); an explicit offset or `Z` wins over the zone.
 * Throws bad_input with examples for anything else.
 */
export function parseStart(text: string, now: number, timeZone = 'UTC'): number {
  const words = text.trim().toLowerCase().split(/\s+/);
  const zone = knownTimeZone(timeZone) ? timeZone : 'UTC';
  const refuse = () =>
    badInput(`"${text}" is not a start time I understand`, `Write ${START_EXAMPLES}.`, { field: 'start' });
  const joined = words.join(' ');
  if (words.length === 1 && joined.startsWith('+')) {
    const seconds = parseDuration(joined.slice(1));
    if (seconds === undefined || seconds <= 0) throw refuse();
    return now + seconds * 1000;
  }
  const full = DATE_TIME.exec(joined);
  if (full) {
    const [, y, mo, d, h, mi, s, offset] = full;
    const wall = {
      year: Number(y),
      month: Number(mo),
      day: Number(d),
      hour: Number(h),
      minute: Number(mi),
      second: Number(s ?? 0),
    };
    if (!validDate(wall)) throw refuse();
    if (!offset) return zonedTime(zone, wall);
    const utc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
    if (offset.toUpperCase() === 'Z') return utc;
    const sign = offset.startsWith('-') ? -1 : 1;
    const digits = offset.slice(1).replace(':', '');
    return utc - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
  }
  const [first, second] = words;
  const clock = CLOCK.exec(words.length === 1 ? (first ?? '') : (second ?? ''));
  if (!clock || words.length > 2) throw refuse();
  const time = { hour: Number(clock[1]), minute: Number(clock[2]) };
  if (words.length === 1) {
    const today = zonedTime(zone, { ...dateIn(zone, now), ...time });
    return today > now ? today : zonedTime(zone, { ...dateIn(zone, now + 86_400_000), ...time });
  }
  if (first === 'today') return zonedTime(zone, { ...dateIn(zone, now), ...time });
  if (first === 'tomorrow') return zonedTime(zone, { ...dateIn(zone, now + 86_400_000), ...time });
  const date = DATE.exec(first ?? '');
  if (!date) throw refuse();
  const day = { year: Number(date[1]), month: Number(date[2]), day: Number(date[3]) };
  if (!validDate({ ...day, ...time })) throw refuse();
  return zonedTime(zone, { ...day, ...time });
}

function validDate(w: { year: number; month: number; day: number }): boolean {
  const d = new Date(Date.UTC(w.year, w.month - 1, w.day));
  return d.getUTCFullYear() === w.year && d.getUTCMonth() === w.month - 1 && d.getUTCDate() === w.day;
}

/** A start this close to now (or just past it, while the person typed) counts as "now". */
export const START_SLACK_MS = 60_000;

/** The window of a scheduled grant: it ends at start + duration, whenever access actually began. */
export const windowEnd = (grant: {
  startsAt?: number | undefined;
  durationSeconds: number;
}): number | undefined =>
  grant.startsAt === undefined ? undefined : grant.startsAt + grant.durationSeconds * 1000;

/**
 * When access that becomes usable at `activatedAt` ends: the window's end for a scheduled grant (a late
 * start shortens it, never moves it), else activation + duration.
 */
export function accessEnd(
  grant: { startsAt?: number | undefined; durationSeconds: number },
  activatedAt: number,
): number {
  return windowEnd(grant) ?? activatedAt + grant.durationSeconds * 1000;
}
