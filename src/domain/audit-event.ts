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

/** The action of a request; with `details.breakGlass` it is a break-glass use of that rule. */
export const REQUESTED = 'requested';

/** The break-glass use an event records (rule and person), if it records one: what rate limits count. */
export function breakGlassUseOf(event: AuditEvent): { rule: string; by: string } | undefined {
  const rule = event.details?.['breakGlass'];
  return event.action === REQUESTED && typeof rule === 'string' && rule !== ''
    ? { rule, by: event.actor }
    : undefined;
}
