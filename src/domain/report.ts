// Access reviews: "who had access to prod last month, who approved it, for how long, and why". Built
// from the audit trail alone (the grant store forgets ended grants; the trail is what security keeps),
// as one row per grant, and rendered as CSV, JSON or Markdown. Pure: events in, rows and text out.
import type { AuditEvent } from './audit-event.js';

/** How a grant's life ended, or where it stands if it has not. */
export type ReportOutcome =
  | 'pending'
  | 'approved'
  | 'active'
  | 'ending'
  | 'expired'
  | 'revoked'
  | 'relinquished'
  | 'denied'
  | 'cancelled'
  | 'lapsed'
  | 'failed';

export interface ReportRow {
  grantId: string;
  requester: string;
  principalArn: string;
  cluster: string;
  namespace: string;
  level: string;
  reason: string;
  tickets: string[];
  requestedAt: number;
  requestedSeconds: number;
  /** People who approved (Slack ids), in order; an auto-approve rule appears as `auto:<ns>#<n>`. */
  approvers: string[];
  deniedBy?: string;
  activatedAt?: number;
  endedAt?: number;
  /** Seconds the access was usable: activation to end (or to the report's end while still active). */
  activeSeconds: number;
  extensions: number;
  extensionSeconds: number;
  outcome: ReportOutcome;
  /** Who ended it: a Slack id, `system` (expiry, reconciler) or `cli:<user>`. */
  endedBy?: string;
  /** The break-glass rule that granted it, if one did. */
  breakGlass?: string;
  /** A break-glass use's review: `pending`, `overdue` (escalated, still pending), `acknowledged`, `flagged`. */
  review?: 'pending' | 'overdue' | 'acknowledged' | 'flagged';
  reviewedBy?: string;
}

export interface ReportWindow {
  since: number;
  until: number;
  cluster?: string | undefined;
}

const TERMINAL: ReadonlySet<string> = new Set([
  'expired',
  'revoked',
  'relinquished',
  'denied',
  'cancelled',
  'lapsed',
  'failed',
]);

const text = (event: AuditEvent, key: string): string => {
  const value = event.details?.[key];
  return value === undefined ? '' : String(value);
};

/**
 * One row per grant whose life (request to end, or to `until` while it lasts) overlaps the window.
 * Pass the events from at least one grant lifetime before `since`, so a grant requested earlier and
 * still active inside the window is reported whole.
 */
export function accessReport(events: readonly AuditEvent[], window: ReportWindow): ReportRow[] {
  const rows = new Map<string, ReportRow>();
  for (const event of [...events].sort((a, b) => a.at - b.at)) {
    if (!event.grantId) continue;
    if (event.action === 'requested') {
      rows.set(event.grantId, {
        grantId: event.grantId,
        requester: event.actor,
        principalArn: text(event, 'principalArn'),
        cluster: text(event, 'cluster'),
        namespace: text(event, 'namespace'),
        level: text(event, 'level'),
        reason: text(event, 'reason'),
        tickets: text(event, 'tickets').split(',').filter(Boolean),
        requestedAt: event.at,
        requestedSeconds: Number(event.details?.['durationSeconds'] ?? 0),
        approvers: [],
        activeSeconds: 0,
        extensions: 0,
        extensionSeconds: 0,
        outcome: 'pending',
        ...(event.details?.['breakGlass']
          ? { breakGlass: String(event.details['breakGlass']), review: 'pending' as const }
          : {}),
      });
      continue;
    }
    const row = rows.get(event.grantId);
    if (!row) continue; // requested before the events we were given: outside any window we report
    switch (event.action) {
      case 'approval-progress':
        if (!row.approvers.includes(event.actor)) row.approvers.push(event.actor);
        break;
      case 'approved':
        if (!row.approvers.includes(event.actor)) row.approvers.push(event.actor);
        row.outcome = 'approved';
        break;
      case 'denied':
        row.deniedBy = event.actor;
        row.outcome = 'denied';
        row.endedAt = event.at;
        break;
      case 'activated':
        row.activatedAt = event.at;
        row.outcome = 'active';
        break;
      case 'extended':
        row.extensions += 1;
        row.extensionSeconds += Number(event.details?.['seconds'] ?? 0);
        break;
      case 'breakglass-review-overdue':
        if (row.review === 'pending') row.review = 'overdue';
        break;
      case 'breakglass-acknowledged':
      case 'breakglass-flagged':
        row.review = event.action === 'breakglass-flagged' ? 'flagged' : 'acknowledged';
        row.reviewedBy = event.actor;
        break;
      case 'ending':
        row.outcome = 'ending';
        row.endedBy = event.actor;
        break;
      default:
        if (TERMINAL.has(event.action)) {
          row.outcome = event.action as ReportOutcome;
          row.endedAt = event.at;
          row.endedBy ??= event.actor;
        }
    }
  }
  const result: ReportRow[] = [];
  for (const row of rows.values()) {
    const lifeEnd = row.endedAt ?? window.until;
    if (row.requestedAt > window.until || lifeEnd < window.since) continue;
    if (window.cluster && row.cluster !== window.cluster) continue;
    if (row.activatedAt !== undefined) {
      row.activeSeconds = Math.max(0, Math.round((Math.min(lifeEnd, window.until) - row.activatedAt) / 1000));
    }
    result.push(row);
  }
  return result.sort((a, b) => a.requestedAt - b.requestedAt);
}

export type ReportFormat = 'csv' | 'json' | 'md';
export const REPORT_FORMATS: readonly ReportFormat[] = ['csv', 'json', 'md'];

const COLUMNS: readonly [string, (row: ReportRow) => string | number][] = [
  ['grant', (r) => r.grantId],
  ['requester', (r) => r.requester],
  ['principal', (r) => r.principalArn],
  ['cluster', (r) => r.cluster],
  ['namespace', (r) => r.namespace],
  ['level', (r) => r.level],
  ['requested_at', (r) => iso(r.requestedAt)],
  ['requested_seconds', (r) => r.requestedSeconds],
  ['approvers', (r) => r.approvers.join(' ')],
  ['denied_by', (r) => r.deniedBy ?? ''],
  ['activated_at', (r) => iso(r.activatedAt)],
  ['ended_at', (r) => iso(r.endedAt)],
  ['active_seconds', (r) => r.activeSeconds],
  ['extensions', (r) => r.extensions],
  ['extension_seconds', (r) => r.extensionSeconds],
  ['outcome', (r) => r.outcome],
  ['ended_by', (r) => r.endedBy ?? ''],
  ['break_glass', (r) => r.breakGlass ?? ''],
  ['review', (r) => (r.review ? `${r.review}${r.reviewedBy ? ` by ${r.reviewedBy}` : ''}` : '')],
  ['tickets', (r) => r.tickets.join(' ')],
  ['reason', (r) => r.reason],
];

const iso = (at: number | undefined): string => (at === undefined ? '' : new Date(at).toISOString());

/**
 * A CSV cell (RFC 4180), neutralised for spreadsheets: a reason is typed by anyone, and a cell that
 * starts with = + - @ (or a tab/CR) would run as a formula when security opens the file.
 */
function csvCell(value: string | number): string {
  let cell = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(cell)) cell = `'${cell}`;
  return /[",\r\n]/.test(cell) ? `"${cell.replaceAll('"', '""')}"` : cell;
}

/** A Markdown table cell: pipes and line breaks would break the table, backslashes start escapes. */
const mdCell = (value: string | number): string =>
  String(value).replaceAll('\\', '\\\\').replaceAll('|', '\\|').replace(/\r?\n/g, ' ');

export function renderReport(rows: readonly ReportRow[], format: ReportFormat, window: ReportWindow): string {
  if (format === 'json') {
    return `${JSON.stringify(
      rows.map((r) => ({
        ...r,
        requestedAt: iso(r.requestedAt),
        ...(r.activatedAt === undefined ? {} : { activatedAt: iso(r.activatedAt) }),
        ...(r.endedAt === undefined ? {} : { endedAt: iso(r.endedAt) }),
      })),
      null,
      2,
    )}\n`;
  }
  if (format === 'csv') {
    const lines = [COLUMNS.map(([name]) => name).join(',')];
    for (const row of rows) lines.push(COLUMNS.map(([, get]) => csvCell(get(row))).join(','));
    return `${lines.join('\r\n')}\r\n`;
  }
  const heading = `# Access report ${iso(window.since)} – ${iso(window.until)}${window.cluster ? ` (${window.cluster})` : ''}`;
  const breakGlass = rows.filter((r) => r.breakGlass);
  const unreviewed = breakGlass.filter((r) => r.review === 'pending' || r.review === 'overdue').length;
  const summary = `${rows.length} grant(s); ${rows.filter((r) => r.activatedAt !== undefined).length} became active, ${Math.round(rows.reduce((s, r) => s + r.activeSeconds, 0) / 60)} minutes of access in all; ${breakGlass.length} break-glass (${unreviewed} not reviewed).`;
  const header = `| ${COLUMNS.map(([name]) => name).join(' | ')} |`;
  const rule = `|${COLUMNS.map(() => ' --- |').join('')}`;
  const body = rows.map((row) => `| ${COLUMNS.map(([, get]) => mdCell(get(row))).join(' | ')} |`);
  return `${[heading, '', summary, '', header, rule, ...body].join('\n')}\n`;
}
