// Append-only trail of every state change, for the security team: the Redis stream `audit` (with a
// retention), and, through adapters/audit-trail.ts, a hash-chained copy on stdout and in the archive.
import type { AuditEvent } from '../domain/audit-event.js';
import type { ChainLink } from '../domain/audit-record.js';

export type { AuditEvent };

/** An event as the Redis stream holds it, with its place in its writer's chain (absent on older entries). */
export interface StoredAuditEntry {
  event: AuditEvent;
  link?: ChainLink;
}

export interface AuditLog {
  /** Appends one event. Never throws for a well-formed event unless the store is down (`unavailable`). */
  append(event: AuditEvent): Promise<void>;
  /**
   * Appends the event unless one with the same `onceKey` was appended before (kept for 90 days), for
   * findings reported once per object however often a sweep sees them. Returns whether it appended.
   */
  appendOnce(event: AuditEvent, onceKey: string): Promise<boolean>;
  /**
   * Events at or after `since` (epoch ms), oldest first, up to `limit`. Only what the Redis stream still
   * holds (AUDIT_STREAM_RETENTION): whatever must be complete reads the archive (shared/audit-history.ts)
   * or a dedicated count, never a window of this.
   */
  read(options: { since?: number; grantId?: string; limit?: number }): Promise<AuditEvent[]>;
  /** Like read, with each event's chain link, so a reader can tell which archive records it already has. */
  readEntries(options: { since?: number; limit?: number }): Promise<StoredAuditEntry[]>;
  /**
   * How many break-glass uses of `rule` were recorded at or after `since` (by one person with `by`):
   * a count kept beside the stream for every use appended, so no other event can push a use out of it.
   */
  countBreakGlassUses(rule: string, since: number, by?: string): Promise<number>;
  /** Whether the counts were restored from the archive since Redis last lost its data (or started empty). */
  breakGlassCountsRestored(): Promise<boolean>;
  /** Adds uses found in the archive's index to the counts (idempotent) and marks them restored. */
  restoreBreakGlassUses(
    uses: readonly { rule: string; by: string; grantId: string; at: number }[],
  ): Promise<void>;
}
