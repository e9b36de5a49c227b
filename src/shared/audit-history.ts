// The audit trail over a window, complete whatever Redis lost: the archive's listing of the window names
// every record written there (keys sort by time); records the Redis stream still holds, unchanged, are
// taken from Redis, and only the others are read from the archive (after a FLUSHALL, or past the stream's
// retention, that is all of them). Events Redis holds that the archive does not (a write still being
// retried, or entries from before the chained trail) are kept as well.
import type { AuditEvent } from '../domain/audit-event.js';
import {
  AUDIT_ARCHIVE_PREFIX,
  type AuditRecord,
  auditArchiveKey,
  auditDayPrefix,
  auditKeyTime,
  type ChainReport,
  parseRecord,
  recordHash,
  verifyChains,
} from '../domain/audit-record.js';
import type { DurableArchive } from '../ports/archive.js';
import type { AuditLog } from '../ports/audit-log.js';

export interface AuditHistoryDeps {
  audit: Pick<AuditLog, 'readEntries'>;
  archive: Pick<DurableArchive, 'list' | 'get'>;
}

export interface AuditHistory {
  /** Oldest first. */
  events: AuditEvent[];
  /** Records read from the archive because Redis did not hold them (or held them changed). */
  fromArchive: number;
  /** The window held more records than `limit`: the newest are missing. */
  truncated: boolean;
}

/** Parallel archive reads: enough to hide latency, few enough not to be throttled. */
const READS_AT_ONCE = 16;

/** Every archive key of the window [since, until], oldest first (at most `limit`). */
export async function auditKeysOf(
  archive: Pick<DurableArchive, 'list'>,
  since: number,
  until: number,
  limit: number,
): Promise<string[]> {
  const keys = await archive.list(AUDIT_ARCHIVE_PREFIX, {
    startAfter: `${auditDayPrefix(since)}${new Date(since - 1).toISOString()}~`,
    limit,
  });
  return keys.filter((key) => {
    const at = auditKeyTime(key);
    return at !== undefined && at >= since && at <= until;
  });
}

export async function auditHistory(
  deps: AuditHistoryDeps,
  window: { since: number; until: number },
  limit: number,
): Promise<AuditHistory> {
  const keys = await auditKeysOf(deps.archive, window.since, window.until, limit);
  const inArchive = new Set(keys);
  const fromRedis = new Map<string, AuditEvent>();
  const redisOnly: AuditEvent[] = [];
  for (const { event, link } of await deps.audit.readEntries({ since: window.since, limit })) {
    if (event.at > window.until) continue;
    if (!link) {
      redisOnly.push(event);
      continue;
    }
    // A Redis entry edited since it was written no longer matches its hash: the archive's copy counts.
    if (recordHash({ v: 1, ...link, event }) !== link.hash) continue;
    const key = auditArchiveKey({ ...link, event });
    if (inArchive.has(key)) fromRedis.set(key, event);
    else redisOnly.push(event);
  }
  const missing = keys.filter((key) => !fromRedis.has(key));
  const read = new Map<string, AuditEvent>();
  for (let i = 0; i < missing.length; i += READS_AT_ONCE) {
    const batch = missing.slice(i, i + READS_AT_ONCE);
    const bodies = await Promise.all(batch.map((key) => deps.archive.get(key)));
    bodies.forEach((body, j) => {
      const record = body === undefined ? undefined : parseRecord(body);
      if (record) read.set(batch[j] as string, record.event);
    });
  }
  const events = [
    ...keys.flatMap((key) => {
      const event = fromRedis.get(key) ?? read.get(key);
      return event ? [event] : [];
    }),
    ...redisOnly,
  ].sort((a, b) => a.at - b.at);
  return { events, fromArchive: read.size, truncated: keys.length >= limit };
}

/** The most records one `audit verify` reads. */
export const AUDIT_VERIFY_LIMIT = 1_000_000;

/**
 * `audit verify`: reads every archived record of the window and checks each writer's chain. A record
 * that is not one (unreadable, another shape) is a problem too.
 */
export async function verifyAuditTrail(
  deps: { archive: Pick<DurableArchive, 'list' | 'get'> },
  window: { since: number; until: number },
  limit: number,
): Promise<ChainReport & { since: string; until: string; truncated: boolean }> {
  const keys = await auditKeysOf(deps.archive, window.since, window.until, limit);
  const records: AuditRecord[] = [];
  const unreadable: string[] = [];
  for (let i = 0; i < keys.length; i += READS_AT_ONCE) {
    const batch = keys.slice(i, i + READS_AT_ONCE);
    const bodies = await Promise.all(batch.map((key) => deps.archive.get(key)));
    bodies.forEach((body, j) => {
      const record = body === undefined ? undefined : parseRecord(body);
      if (record) records.push(record);
      else unreadable.push(`${batch[j]}: not an audit record`);
    });
  }
  const report = verifyChains(records);
  return {
    since: new Date(window.since).toISOString(),
    until: new Date(window.until).toISOString(),
    ...report,
    problems: [...unreadable, ...report.problems],
    truncated: keys.length >= limit,
  };
}
