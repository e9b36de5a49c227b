// The weekly access summary for the audit channel, from the access report's rows: grants per namespace,
// break-glass uses and their reviews, the longest grants, and who held access longest. Pure: rows in,
// figures and lines out; the chat adapter lays them out and attaches the chart.
import { formatDuration } from './duration.js';
import type { ReportRow } from './report.js';

export interface WeeklySummary {
  since: number;
  until: number;
  grants: number;
  activated: number;
  accessSeconds: number;
  /** `namespace on cluster` with grants and the hours of access in the window, most access first. */
  perNamespace: { target: string; grants: number; accessSeconds: number }[];
  breakGlass: { uses: number; unreviewed: number; flagged: number };
  longest: ReportRow[];
  people: { requester: string; accessSeconds: number; grants: number }[];
}

const TOP = 5;

export function weeklySummary(
  rows: readonly ReportRow[],
  window: { since: number; until: number },
): WeeklySummary {
  const perNamespace = new Map<string, { target: string; grants: number; accessSeconds: number }>();
  const people = new Map<string, { requester: string; accessSeconds: number; grants: number }>();
  for (const row of rows) {
    const target = `${row.namespace} on ${row.cluster}`;
    const ns = perNamespace.get(target) ?? { target, grants: 0, accessSeconds: 0 };
    ns.grants += 1;
    ns.accessSeconds += row.activeSeconds;
    perNamespace.set(target, ns);
    const person = people.get(row.requester) ?? { requester: row.requester, accessSeconds: 0, grants: 0 };
    person.grants += 1;
    person.accessSeconds += row.activeSeconds;
    people.set(row.requester, person);
  }
  const breakGlass = rows.filter((r) => r.breakGlass);
  const byAccess = <T extends { accessSeconds: number }>(a: T, b: T) => b.accessSeconds - a.accessSeconds;
  return {
    ...window,
    grants: rows.length,
    activated: rows.filter((r) => r.activatedAt !== undefined).length,
    accessSeconds: rows.reduce((sum, r) => sum + r.activeSeconds, 0),
    perNamespace: [...perNamespace.values()].sort(byAccess),
    breakGlass: {
      uses: breakGlass.length,
      unreviewed: breakGlass.filter((r) => r.review === 'pending' || r.review === 'overdue').length,
      flagged: breakGlass.filter((r) => r.review === 'flagged').length,
    },
    longest: [...rows]
      .filter((r) => r.activeSeconds > 0)
      .sort((a, b) => b.activeSeconds - a.activeSeconds)
      .slice(0, TOP),
    people: [...people.values()]
      .filter((p) => p.accessSeconds > 0)
      .sort(byAccess)
      .slice(0, TOP),
  };
}

/** The chart's bars: hours of access per namespace (the picture reads better than the table here). */
export function accessHoursBars(summary: WeeklySummary): { label: string; value: number }[] {
  return summary.perNamespace
    .filter((n) => n.accessSeconds > 0)
    .slice(0, 12)
    .map((n) => ({ label: n.target, value: Math.round((n.accessSeconds / 3600) * 100) / 100 }));
}

/** Plain lines for a chat message; `person` renders a requester (a mention in Slack). */
export function summaryLines(summary: WeeklySummary, person: (id: string) => string): string[] {
  const lines = [
    `${summary.grants} grant(s), ${summary.activated} became active, ${formatDuration(summary.accessSeconds)} of access in all.`,
    `Break-glass: ${summary.breakGlass.uses} use(s), ${summary.breakGlass.unreviewed} not reviewed, ${summary.breakGlass.flagged} flagged.`,
  ];
  if (summary.perNamespace.length > 0) {
    lines.push(
      `Per namespace: ${summary.perNamespace
        .slice(0, 8)
        .map((n) => `${n.target} ${n.grants} (${formatDuration(n.accessSeconds)})`)
        .join(', ')}.`,
    );
  }
  if (summary.longest.length > 0) {
    lines.push(
      `Longest: ${summary.longest
        .map(
          (r) =>
            `${r.grantId} ${person(r.requester)} ${r.level} in ${r.namespace} on ${r.cluster} ${formatDuration(r.activeSeconds)}`,
        )
        .join('; ')}.`,
    );
  }
  if (summary.people.length > 0) {
    lines.push(
      `Most access time: ${summary.people.map((p) => `${person(p.requester)} ${formatDuration(p.accessSeconds)} (${p.grants})`).join(', ')}.`,
    );
  }
  return lines;
}
