// Use case: an access review for security (`eks-access report`). Reads the audit trail from far enough
// back that a grant requested before the window and still alive inside it is reported whole.
import type { Policy } from '../config/policy.js';
import { parseDuration } from '../domain/duration.js';
import { badInput } from '../domain/errors.js';
import {
  accessReport,
  type ReportFormat,
  type ReportRow,
  type ReportWindow,
  renderReport,
} from '../domain/report.js';
import type { DurableArchive } from '../ports/archive.js';
import type { AuditLog } from '../ports/audit-log.js';
import { auditHistory } from './audit-history.js';

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

/** What a report reads: the archive (complete) with the Redis stream; the stream alone where there is no archive. */
export interface ReportDeps {
  audit: Pick<AuditLog, 'read' | 'readEntries'>;
  archive?: Pick<DurableArchive, 'list' | 'get'> | undefined;
  policy: Policy;
}

/**
 * The report's rows for a window, read from far enough back (see accessReview). With the archive, every
 * event of the window is there whatever Redis lost (shared/audit-history.ts).
 */
export async function reportRows(
  deps: ReportDeps,
  window: ReportWindow,
): Promise<{ rows: ReportRow[]; truncated: boolean }> {
  // A policy changed since may have allowed longer grants; one extra day covers the usual case.
  const lookbackMs = (longestGrantLifeSeconds(deps.policy) + 86_400) * 1000;
  const since = window.since - lookbackMs;
  if (deps.archive) {
    const history = await auditHistory(
      { audit: deps.audit, archive: deps.archive },
      { since, until: window.until },
      REPORT_EVENT_LIMIT,
    );
    return { rows: accessReport(history.events, window), truncated: history.truncated };
  }
  const events = await deps.audit.read({ since, limit: REPORT_EVENT_LIMIT });
  return { rows: accessReport(events, window), truncated: events.length >= REPORT_EVENT_LIMIT };
}

export async function accessReview(
  deps: ReportDeps,
  window: ReportWindow,
  format: ReportFormat,
): Promise<{ text: string; rows: number; truncated: boolean }> {
  if (window.since > window.until) throw badInput('--since is after --until');
  const { rows, truncated } = await reportRows(deps, window);
  return { text: renderReport(rows, format, window), rows: rows.length, truncated };
}
