// The audit trail every process writes: each event, as it happens, goes three ways with the same
// hash-chained record (domain/audit-record.ts; one chain per process):
//   1. one JSON line on stdout (`"type":"eks-access.audit"`), for the cluster's log pipeline;
//   2. the durable archive (S3 with Object Lock): `audit/<day>/<iso>-<writer>-<seq>`, written once;
//   3. the Redis stream, which the product reads (App Home, `audit export`) and which has a retention.
// A break-glass use is also indexed in the archive (`index/break-glass/<rule>/<iso>-<grant>-<user>`) so
// its rate limits can be counted again after Redis lost its data (engine/break-glass-counts.ts).
// An archive write that fails (after the S3 client's own retries) is kept and retried every few seconds
// in order, counted in `failures` and logged; the stdout line already carries the record meanwhile. An
// append waits for its archive write at most ARCHIVE_WAIT_MS: a hung S3 must not hold up a Slack click
// (the write goes on, and a failure joins the retries).
import { type AuditEvent, breakGlassUseOf } from '../domain/audit-event.js';
import {
  type AuditRecord,
  auditArchiveKey,
  type ChainHead,
  chainNext,
  chainStart,
  serialiseRecord,
} from '../domain/audit-record.js';
import { breakGlassIndexKey } from '../domain/break-glass-index.js';
import type { DurableArchive } from '../ports/archive.js';
import type { AuditLog, StoredAuditEntry } from '../ports/audit-log.js';
import type { Logger } from './logger.js';
import type { RedisAuditLog } from './redis/audit-log.js';

/** Writes kept for a retry at most; past this the oldest are given up (and logged, and counted). */
export const MAX_PENDING_ARCHIVE_WRITES = 10_000;
export const ARCHIVE_RETRY_MS = 5_000;
/** How long an append waits for its archive write before leaving it to finish on its own. */
export const ARCHIVE_WAIT_MS = 1_000;

interface PendingWrite {
  key: string;
  body: string;
}

export interface AuditTrailOptions {
  redis: RedisAuditLog;
  archive: DurableArchive;
  /** This process's chain: `<role>-<random>` (WRITER_ID), new on every start. */
  writer: string;
  /** Where the record lines go (process.stdout in production). */
  writeLine: (line: string) => void;
  logger: Logger;
  retryMs?: number;
}

export class ChainedAuditLog implements AuditLog {
  readonly redis: RedisAuditLog;
  readonly #archive: DurableArchive;
  readonly #writeLine: (line: string) => void;
  readonly #logger: Logger;
  #head: ChainHead;
  readonly #pending: PendingWrite[] = [];
  #draining: Promise<void> | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #timer: NodeJS.Timeout;
  /** Archive writes that failed (each retried until it lands or is given up). */
  failures = 0;
  /** Archive writes given up because too many were waiting. */
  dropped = 0;

  constructor(options: AuditTrailOptions) {
    this.redis = options.redis;
    this.#archive = options.archive;
    this.#writeLine = options.writeLine;
    this.#logger = options.logger;
    this.#head = chainStart(options.writer);
    this.#timer = setInterval(() => void this.flush(), options.retryMs ?? ARCHIVE_RETRY_MS);
    this.#timer.unref();
  }

  get writer(): string {
    return this.#head.writer;
  }

  /** Archive writes waiting for a retry. */
  get pending(): number {
    return this.#pending.length;
  }

  async append(event: AuditEvent): Promise<void> {
    // The chain advances synchronously, so concurrent appends get consecutive places in call order.
    const { record, head } = chainNext(this.#head, event);
    this.#head = head;
    const body = serialiseRecord(record);
    this.#writeLine(body);
    const writes: PendingWrite[] = [{ key: auditArchiveKey(record), body }];
    const use = breakGlassUseOf(event);
    if (use) writes.push({ key: breakGlassIndexKey({ ...use, grantId: event.grantId, at: event.at }), body });
    const archived = this.#toArchive(writes);
    this.#inFlight.add(archived);
    void archived.finally(() => this.#inFlight.delete(archived));
    try {
      await this.redis.appendEntry({ event, link: linkOf(record) });
    } finally {
      await atMost(archived, ARCHIVE_WAIT_MS);
    }
  }

  /** Resolves once every archive write started so far has landed or joined the retries. */
  async settled(): Promise<void> {
    await Promise.all([...this.#inFlight]);
  }

  async appendOnce(event: AuditEvent, onceKey: string): Promise<boolean> {
    if (!(await this.redis.claimOnce(onceKey, event.at))) return false;
    await this.append(event);
    return true;
  }

  read(options: { since?: number; grantId?: string; limit?: number }): Promise<AuditEvent[]> {
    return this.redis.read(options);
  }

  readEntries(options: { since?: number; limit?: number }): Promise<StoredAuditEntry[]> {
    return this.redis.readEntries(options);
  }

  countBreakGlassUses(rule: string, since: number, by?: string): Promise<number> {
    return this.redis.countBreakGlassUses(rule, since, by);
  }

  breakGlassCountsRestored(): Promise<boolean> {
    return this.redis.breakGlassCountsRestored();
  }

  restoreBreakGlassUses(
    uses: readonly { rule: string; by: string; grantId: string; at: number }[],
  ): Promise<void> {
    return this.redis.restoreBreakGlassUses(uses);
  }

  /** Retries the archive writes that failed, oldest first; resolves when none is left or one fails again. */
  flush(): Promise<void> {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  /** Stops the retry timer after one last attempt (close of the process). */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.settled();
    await this.flush();
    if (this.#pending.length > 0) {
      this.#logger.error(
        {
          event: 'audit-archive-unwritten',
          count: this.#pending.length,
          keys: this.#pending.map((p) => p.key),
        },
        'audit records not written to the archive before exit (their lines are on stdout)',
      );
    }
  }

  async #toArchive(writes: PendingWrite[]): Promise<void> {
    // Behind earlier failures: queued after them, written by the retry (not waited for here).
    if (this.#pending.length > 0) {
      this.#keep(writes);
      void this.flush();
      return;
    }
    for (const [i, write] of writes.entries()) {
      try {
        await this.#archive.putOnce(write.key, write.body);
      } catch (error) {
        this.#failed(error, write);
        this.#keep(writes.slice(i));
        return;
      }
    }
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const write = this.#pending[0] as PendingWrite;
      try {
        await this.#archive.putOnce(write.key, write.body);
      } catch (error) {
        this.#failed(error, write);
        return;
      }
      this.#pending.shift();
    }
  }

  #keep(writes: PendingWrite[]): void {
    this.#pending.push(...writes);
    const over = this.#pending.length - MAX_PENDING_ARCHIVE_WRITES;
    if (over <= 0) return;
    const lost = this.#pending.splice(0, over);
    this.dropped += lost.length;
    this.#logger.error(
      { event: 'audit-archive-dropped', count: lost.length, keys: lost.map((p) => p.key) },
      'audit records given up for the archive after too many failed writes (their lines are on stdout)',
    );
  }

  #failed(error: unknown, write: PendingWrite): void {
    this.failures += 1;
    this.#logger.error(
      { event: 'audit-archive-failed', key: write.key, pending: this.#pending.length + 1, err: error },
      'an audit record could not be written to the archive; retrying',
    );
  }
}

const linkOf = (r: AuditRecord) => ({ writer: r.writer, seq: r.seq, prevHash: r.prevHash, hash: r.hash });

/** Waits for `work` at most `ms` (it goes on afterwards); never rejects (`work` never does). */
async function atMost(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    work,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
