// Durations as people write them: 30m, 2h, 1d, 1h30m, 90s. Stored and computed as whole seconds.
import { badInput } from './errors.js';

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** Parses `30m`, `2h`, `1d`, `1h30m`; returns seconds, or undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '') return undefined;
  const match = DURATION.exec(trimmed);
  if (!match) return undefined;
  const [, d, h, m, s] = match;
  return (
    Number(d ?? 0) * UNIT_SECONDS.d +
    Number(h ?? 0) * UNIT_SECONDS.h +
    Number(m ?? 0) * UNIT_SECONDS.m +
    Number(s ?? 0) * UNIT_SECONDS.s
  );
}

export function requireDuration(text: string, what = 'duration'): number {
  const seconds = parseDuration(text);
  if (seconds === undefined) {
    throw badInput(`"${text}" is not a ${what}`, 'Write it like 30m, 2h, 1d or 1h30m.');
  }
  return seconds;
}

/** 5400 → "1h30m"; 0 → "0s". The inverse of parseDuration for canonical forms. */
export function formatDuration(totalSeconds: number): string {
  let rest = Math.max(0, Math.round(totalSeconds));
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, size] of [
    ['d', UNIT_SECONDS.d],
    ['h', UNIT_SECONDS.h],
    ['m', UNIT_SECONDS.m],
    ['s', UNIT_SECONDS.s],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) out += `${count}${unit}`;
    rest -= count * size;
  }
  return out;
}
