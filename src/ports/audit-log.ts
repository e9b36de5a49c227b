// Append-only trail of every state change, for the security team (Redis stream `audit`).
import type { AuditEvent } from '../domain/audit-event.js';

export type { AuditEvent };

export interface AuditLog {
  /** Appends one event. Never throws for a well-formed event unless the store is down (`unavailable`). */
  append(event: AuditEvent): Promise<void>;
  /**
   * Appends the event unless one with the same `onceKey` was appended before (kept for 90 days), for
   * findings reported once per object however often a sweep sees them. Returns whether it appended.
   */
  appendOnce(event: AuditEvent, onceKey: string): Promise<boolean>;
  /** Events at or after `since` (epoch ms), oldest first, up to `limit`. */
  read(options: { since?: number; grantId?: string; limit?: number }): Promise<AuditEvent[]>;
}
