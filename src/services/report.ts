// Use case: an access review for security (`eks-access report`). Reads the audit trail from far enough
// back that a grant requested before the window and still alive inside it is reported whole.
import type { Policy } from '../config/policy.js';
import { parseDuration } from '../domain/duration.js';
import { badInput } from '../domain/errors.js';
import { accessReport, type ReportFormat, type ReportWindow, renderReport } from '../domain/report.js';
import type { AuditLog } from '../ports/audit-log.js';

/** The most events one report reads; a trail longer than this is cut, and the report says so. */
export const REPORT_EVENT_LIMIT = 2_000_000;

/** The longest a grant can live from request to end under this policy (pending, then every extension). */
export function longestGrantLifeSeconds(policy: Policy): number {
  const seconds = (text: string | undefined) => (text ? (parseDuration(text) ?? 0) : 0);
  const longestAccess = Math.max(
    0,
    ...Object.values(policy.levels).map((l) => Math.max(seconds(l.maxDuration), seconds(l.extend.maxTotal))),
  );
  return seconds(policy.settings.pendingTimeout) + longestAccess;
}

export async function accessReview(
  deps: { audit: Pick<AuditLog, 'read'>; policy: Policy },
  window: ReportWindow,
  format: ReportFormat,
): Promise<{ text: string; rows: number; truncated: boolean }> {
  if (window.since > window.until) throw badInput('--since is after --until');
  // A policy changed since may have allowed longer grants; one extra day covers the usual case.
  const lookbackMs = (longestGrantLifeSeconds(deps.policy) + 86_400) * 1000;
  const events = await deps.audit.read({ since: window.since - lookbackMs, limit: REPORT_EVENT_LIMIT });
  const rows = accessReport(events, window);
  return {
    text: renderReport(rows, format, window),
    rows: rows.length,
    truncated: events.length >= REPORT_EVENT_LIMIT,
  };
}
