// The durable archive: an append-only store outside Redis (S3 with Object Lock in production) for the
// facts that must outlive a FLUSHALL and that nobody in eks-access may erase — the single-use ledger of
// decisions and extension claims, and the audit trail. eks-access's own IAM policies grant writes and reads
// on it, never a delete; the bucket's COMPLIANCE retention refuses deleting a version to everyone.
export interface DurableArchive {
  /**
   * Writes `body` at `key` only when no object is there yet (a conditional write): 'created', or 'exists'
   * when one already is — also when an earlier attempt of this same write succeeded, so a retry is safe.
   * Throws `unavailable` when the store cannot be reached (the caller retries), `misconfigured` when
   * eks-access may not write there.
   */
  putOnce(key: string, body: string): Promise<'created' | 'exists'>;
  /** The body at `key`, or undefined when there is none. */
  get(key: string): Promise<string | undefined>;
  /**
   * Keys under `prefix` in the store's lexicographic order, after `startAfter` (exclusive), at most `limit`
   * (all when omitted; pages through the store's own listing limit).
   */
  list(prefix: string, options?: { startAfter?: string; limit?: number }): Promise<string[]>;
}
