// Work that happens later or elsewhere: activation on a worker, revocation at expiry, warnings.
// Every job is keyed by the grant id, so scheduling twice collapses into one job.
export interface Scheduler {
  /**
   * Queue the grant for activation now, or at `at` (epoch ms; a scheduled window's start). Idempotent
   * per grant id and moment.
   */
  enqueueActivation(grantId: string, at?: number): Promise<void>;
  /**
   * Queue a claimed extension (`Grant.extensionsApplying`) for the worker to apply now. Idempotent per
   * grant id and extension id: queueing it again while it waits or runs adds nothing.
   */
  enqueueExtension(grantId: string, extensionId: string): Promise<void>;
  /**
   * Revoke at `at` (epoch ms; now when omitted). Replaces an earlier schedule for the same grant,
   * which is how extensions move the expiry.
   */
  scheduleRevocation(grantId: string, at?: number): Promise<void>;
  /** DM the expiry warning at `at`. Replaces an earlier schedule for the same grant. */
  scheduleExpiryWarning(grantId: string, at: number): Promise<void>;
  /** Lapse a pending request at `at`. */
  schedulePendingTimeout(grantId: string, at: number): Promise<void>;
  /** Check at `at` that a break-glass use was reviewed; escalate it otherwise. */
  scheduleBreakGlassReview(grantId: string, at: number): Promise<void>;
  /** DM the requester the commands of an approved window at `at`, before it opens. */
  scheduleWindowReminder(grantId: string, at: number): Promise<void>;
  /**
   * Ask the approvers of a pending request again at `at`. One job per grant and moment (scheduling the
   * same moment twice adds nothing); the job does nothing once the request is decided.
   */
  scheduleApprovalReminder(grantId: string, at: number): Promise<void>;
}
