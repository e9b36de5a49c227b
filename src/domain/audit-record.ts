// The audit trail's durable form: each event wrapped in a record that names its writer (one chain per
// process), its place in that writer's sequence and the hash of the writer's previous record. A record
// removed from, or edited in, any copy (the archive, the Redis stream, the log pipeline) breaks the
// chain: the next record's `prevHash` no longer matches. Pure: the hash is SHA-256 over a canonical
// encoding, the same on every writer and in the verifier.
import { createHash } from 'node:crypto';
import type { AuditEvent } from './audit-event.js';

/** The record's shape; bumped when a field changes meaning. Readers accept every version they know. */
export const AUDIT_RECORD_VERSION = 1;
/** What a log pipeline filters on: every record line on stdout carries it. */
export const AUDIT_RECORD_TYPE = 'eks-access.audit';
/** The `prevHash` of a writer's first record. */
export const CHAIN_START = '0'.repeat(64);
/** Writer ids go into archive keys: short, lower-case, no separators a key would confuse. */
export const WRITER_ID = /^[a-z][a-z0-9]{0,15}-[a-z0-9]{6,32}$/;

export interface ChainLink {
  writer: string;
  /** 1 for a writer's first record, then one more for each. */
  seq: number;
  prevHash: string;
  hash: string;
}

export interface AuditRecord extends ChainLink {
  type: typeof AUDIT_RECORD_TYPE;
  v: typeof AUDIT_RECORD_VERSION;
  event: AuditEvent;
}

/** Where a writer's chain stands: the last record it wrote (none yet: seq 0, CHAIN_START). */
export interface ChainHead {
  writer: string;
  seq: number;
  hash: string;
}

export const chainStart = (writer: string): ChainHead => ({ writer, seq: 0, hash: CHAIN_START });

function canonicalEvent(event: AuditEvent): unknown[] {
  const details = event.details ?? {};
  return [
    event.action,
    event.actor,
    event.grantId,
    event.at,
    Object.keys(details)
      .sort()
      .map((k) => [k, details[k]]),
  ];
}

export function recordHash(r: Pick<AuditRecord, 'v' | 'writer' | 'seq' | 'prevHash' | 'event'>): string {
  const canonical = JSON.stringify([
    AUDIT_RECORD_TYPE,
    r.v,
    r.writer,
    r.seq,
    r.prevHash,
    canonicalEvent(r.event),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** The next record of a chain, and the chain's new head. */
export function chainNext(head: ChainHead, event: AuditEvent): { record: AuditRecord; head: ChainHead } {
  const unhashed = {
    type: AUDIT_RECORD_TYPE,
    v: AUDIT_RECORD_VERSION,
    writer: head.writer,
    seq: head.seq + 1,
    prevHash: head.hash,
    event,
  } as const;
  const record: AuditRecord = { ...unhashed, hash: recordHash(unhashed) };
  return { record, head: { writer: head.writer, seq: record.seq, hash: record.hash } };
}

/** Archive keys sort by time: a window is a listing from its first day's prefix. */
export const AUDIT_ARCHIVE_PREFIX = 'audit/';

export function auditDayPrefix(at: number): string {
  return `${AUDIT_ARCHIVE_PREFIX}${new Date(at).toISOString().slice(0, 10)}/`;
}

/** `audit/<yyyy-mm-dd>/<iso time>-<writer>-<seq, 12 digits>`: unique per writer and sequence. */
export function auditArchiveKey(record: Pick<AuditRecord, 'writer' | 'seq' | 'event'>): string {
  const iso = new Date(record.event.at).toISOString();
  return `${auditDayPrefix(record.event.at)}${iso}-${record.writer}-${String(record.seq).padStart(12, '0')}`;
}

/** The time a key names (epoch ms), or undefined when the key is not an audit key. */
export function auditKeyTime(key: string): number | undefined {
  const match = /^audit\/\d{4}-\d{2}-\d{2}\/(\d{4}-\d{2}-\d{2}T[\d:.]+Z)-/.exec(key);
  const at = match ? Date.parse(match[1] as string) : Number.NaN;
  return Number.isFinite(at) ? at : undefined;
}

/** One line of JSON: the body of the archive object and the line on stdout are the same text. */
export const serialiseRecord = (record: AuditRecord): string => JSON.stringify(record);

/** A record read back (archive object, log line, Redis entry); undefined when it is not one. */
export function parseRecord(text: string): AuditRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as Partial<AuditRecord>;
  if (r.type !== AUDIT_RECORD_TYPE || r.v !== AUDIT_RECORD_VERSION) return undefined;
  if (typeof r.writer !== 'string' || typeof r.seq !== 'number' || typeof r.prevHash !== 'string')
    return undefined;
  if (typeof r.hash !== 'string' || typeof r.event !== 'object' || r.event === null) return undefined;
  return r as AuditRecord;
}

export interface ChainReport {
  writers: number;
  records: number;
  /** Each break in words: edited record, missing records, a record out of its chain. Empty: intact. */
  problems: string[];
}

/**
 * Checks every writer's chain in `records` (any order). A window that starts inside a chain cannot check
 * its first record's `prevHash` against a record it does not hold, so each chain is checked from the
 * first record present; `fromStart` asks that every chain begin at seq 1. The last records of a chain
 * can be cut without a trace in the chain itself: the archive's Object Lock is what keeps those.
 */
export function verifyChains(
  records: readonly AuditRecord[],
  options: { fromStart?: boolean } = {},
): ChainReport {
  const byWriter = new Map<string, AuditRecord[]>();
  for (const r of records) byWriter.set(r.writer, [...(byWriter.get(r.writer) ?? []), r]);
  const problems: string[] = [];
  for (const [writer, chain] of byWriter) {
    chain.sort((a, b) => a.seq - b.seq);
    let previous: AuditRecord | undefined;
    for (const r of chain) {
      const where = `writer ${writer} record ${r.seq} (${r.event.action} ${r.event.grantId})`;
      if (recordHash(r) !== r.hash) problems.push(`${where}: edited (its hash does not match its content)`);
      if (previous === undefined) {
        if (options.fromStart && r.seq !== 1)
          problems.push(`writer ${writer}: records 1-${r.seq - 1} are missing`);
        if (r.seq === 1 && r.prevHash !== CHAIN_START)
          problems.push(`${where}: a first record that names a predecessor`);
      } else if (r.seq === previous.seq) {
        problems.push(`${where}: written twice with different content`);
      } else if (r.seq !== previous.seq + 1) {
        problems.push(`writer ${writer}: records ${previous.seq + 1}-${r.seq - 1} are missing`);
      } else if (r.prevHash !== previous.hash) {
        problems.push(`${where}: does not follow record ${previous.seq} (an earlier record was replaced)`);
      }
      previous = r;
    }
  }
  return { writers: byWriter.size, records: records.length, problems };
}
