// The audit trail as a Redis stream (`<prefix>audit`). Stream ids are time-ordered, so reading
// "since T" is an XRANGE from T. Fields: action, actor, grantId, at, details (JSON), and `chain` (the
// record's writer, sequence and hashes, JSON) when the event came through the chained trail, and `v`
// (the entry format, AUDIT_STREAM_ENTRY_VERSION; absent on entries written before it was stamped: 1).
// Each XADD trims entries older than the retention (MINID, exact: only the few entries that just fell
// out of the window go, so it costs little, and the retention holds to the millisecond). Break-glass uses are also
// kept in sorted sets per rule and per rule and person (score: the use's time), so a rate limit counts
// every use in its window with one ZCOUNT, whatever else the stream holds.
import { type AuditEvent, breakGlassUseOf } from '../../domain/audit-event.js';
import type { ChainLink } from '../../domain/audit-record.js';
import { AccessError } from '../../domain/errors.js';
import { AUDIT_STREAM_ENTRY_VERSION } from '../../domain/formats.js';
import type { AuditLog, StoredAuditEntry } from '../../ports/audit-log.js';
import type { RedisClient } from './connection.js';

const ONCE_TTL_S = 90 * 86_400;
/** Break-glass uses older than this are dropped from the counting sets (no rule counts back further). */
export const BREAK_GLASS_KEEP_MS = 366 * 86_400_000;
export const DEFAULT_AUDIT_RETENTION_MS = 30 * 86_400_000;

export class RedisAuditLog implements AuditLog {
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #retentionMs: number;

  constructor(redis: RedisClient, prefix: string, options: { retentionMs?: number } = {}) {
    this.#redis = redis;
    this.#key = `${prefix}audit`;
    this.#retentionMs = options.retentionMs ?? DEFAULT_AUDIT_RETENTION_MS;
  }

  append(event: AuditEvent): Promise<void> {
    return this.appendEntry({ event });
  }

  /** Appends the event with its chain link (the chained trail calls this). */
  async appendEntry({ event, link }: StoredAuditEntry): Promise<void> {
    const fields = [
      'v',
      String(AUDIT_STREAM_ENTRY_VERSION),
      'action',
      event.action,
      'actor',
      event.actor,
      'grantId',
      event.grantId,
      'at',
      String(event.at),
      'details',
      JSON.stringify(event.details ?? {}),
      ...(link ? ['chain', JSON.stringify(link)] : []),
    ];
    const multi = this.#redis
      .multi()
      .xadd(this.#key, 'MINID', String(Math.max(0, event.at - this.#retentionMs)), '*', ...fields);
    const use = breakGlassUseOf(event);
    if (use) {
      for (const set of [this.#usesKey(use.rule), this.#usesKey(use.rule, use.by)]) {
        multi
          .zadd(set, event.at, event.grantId)
          .zremrangebyscore(set, '-inf', event.at - BREAK_GLASS_KEEP_MS);
      }
    }
    try {
      const replies = await multi.exec();
      const failed = replies?.find(([error]) => error);
      if (!replies || failed) throw failed?.[0] ?? new Error('transaction aborted');
    } catch (error) {
      throw new AccessError('unavailable', 'Redis did not accept the audit event', { cause: error });
    }
  }

  /**
   * Puts break-glass uses found in the archive's index back into the counts (after Redis lost its data)
   * and marks the counts restored; `restored` says whether they were (the worker restores when not).
   */
  async restoreBreakGlassUses(uses: readonly { rule: string; by: string; grantId: string; at: number }[]) {
    for (let i = 0; i < uses.length; i += 500) {
      const multi = this.#redis.multi();
      for (const use of uses.slice(i, i + 500)) {
        multi.zadd(this.#usesKey(use.rule), use.at, use.grantId);
        multi.zadd(this.#usesKey(use.rule, use.by), use.at, use.grantId);
      }
      await multi.exec();
    }
    await this.#redis.set(this.#restoredKey, String(Date.now()));
  }

  /** Whether the break-glass counts were restored from the archive since Redis last lost its data. */
  async breakGlassCountsRestored(): Promise<boolean> {
    return (await this.#redis.exists(this.#restoredKey)) === 1;
  }

  get #restoredKey() {
    return `${this.#key}:breakglass-restored`;
  }

  async countBreakGlassUses(rule: string, since: number, by?: string): Promise<number> {
    try {
      return await this.#redis.zcount(this.#usesKey(rule, by), since, '+inf');
    } catch (error) {
      throw new AccessError('unavailable', 'Redis could not count break-glass uses', { cause: error });
    }
  }

  // Rule names and Slack user ids have no `:`, so the two kinds of key cannot collide.
  #usesKey = (rule: string, by?: string) => `${this.#key}:breakglass:${rule}${by ? `:by:${by}` : ''}`;

  async appendOnce(event: AuditEvent, onceKey: string): Promise<boolean> {
    if (!(await this.claimOnce(onceKey, event.at))) return false;
    await this.append(event);
    return true;
  }

  /** Claims `onceKey` for 90 days: true the first time only (appendOnce; the chained trail calls it too). */
  async claimOnce(onceKey: string, at: number): Promise<boolean> {
    try {
      return (
        (await this.#redis.set(`${this.#key}:once:${onceKey}`, String(at), 'EX', ONCE_TTL_S, 'NX')) === 'OK'
      );
    } catch (error) {
      throw new AccessError('unavailable', 'Redis did not accept the audit event', { cause: error });
    }
  }

  async read(options: { since?: number; grantId?: string; limit?: number }): Promise<AuditEvent[]> {
    return (await this.readEntries(options)).map((e) => e.event);
  }

  /** Like read, with each entry's chain link (absent on entries written before chains existed). */
  async readEntries(options: {
    since?: number;
    grantId?: string;
    limit?: number;
  }): Promise<StoredAuditEntry[]> {
    const limit = options.limit ?? 10_000;
    const start = options.since === undefined ? '-' : String(options.since);
    const entries = await this.#redis.xrange(
      this.#key,
      start,
      '+',
      'COUNT',
      options.grantId ? 100_000 : limit,
    );
    const read = entries.map(([, fields]) => toEntry(fields));
    return (options.grantId ? read.filter((e) => e.event.grantId === options.grantId) : read).slice(0, limit);
  }

  /** The time of the stream's oldest entry (epoch ms from its id), or undefined when it is empty. */
  async oldestAt(): Promise<number | undefined> {
    const [first] = await this.#redis.xrange(this.#key, '-', '+', 'COUNT', 1);
    return first ? Number(first[0].split('-')[0]) : undefined;
  }
}

function toEntry(fields: string[]): StoredAuditEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  const details = JSON.parse(map.get('details') ?? '{}') as Record<string, string | number | boolean>;
  const chain = map.get('chain');
  return {
    event: {
      action: map.get('action') ?? '',
      actor: map.get('actor') ?? '',
      grantId: map.get('grantId') ?? '',
      at: Number(map.get('at') ?? 0),
      ...(Object.keys(details).length > 0 ? { details } : {}),
    },
    ...(chain ? { link: JSON.parse(chain) as ChainLink } : {}),
  };
}
