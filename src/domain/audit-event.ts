// One entry of the audit trail: what happened to which grant, who did it, when. Domain code reads
// trails (reports) as well as writing them, so the shape lives here; ports/audit-log.ts stores it.
export interface AuditEvent {
  /** What happened, e.g. `requested`, `approved`, `activated`, `revoked`, `failed`, `extended`. */
  action: string;
  /** Slack user id, `system` (expiry, reconciler), `auto:<rule>` or `cli:<os user>`. */
  actor: string;
  grantId: string;
  at: number;
  /** Small, non-secret facts: cluster, namespace, level, reason, from/to status. */
  details?: Record<string, string | number | boolean>;
}
