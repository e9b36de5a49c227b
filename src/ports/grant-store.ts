// Where requests and grants live (Redis in production). The cluster, not this store, is the source
// of truth for what access exists: losing the store must never leave access behind.
import type { Grant, GrantStatus } from '../domain/grant.js';

export interface GrantStore {
  /** Stores a new grant. Throws `conflict` if the id exists. */
  create(grant: Grant): Promise<void>;
  /** The grant, or undefined when there is none (never throws not_found). */
  get(id: string): Promise<Grant | undefined>;
  /**
   * Compare-and-set: writes `next` only if the stored version is `next.version - 1`.
   * Returns false (and writes nothing) when someone else wrote first; the caller re-reads and decides.
   */
  replace(next: Grant): Promise<boolean>;
  /** Every grant this Slack user requested, newest first. */
  listByRequester(slackUserId: string, limit?: number): Promise<Grant[]>;
  /** Every grant currently in one of these statuses (indexes kept in step with replace). */
  listByStatus(statuses: readonly GrantStatus[]): Promise<Grant[]>;
  /** How many grants are in this status, from the same index without reading a grant (the metrics gauge). */
  countByStatus(status: GrantStatus): Promise<number>;
}
