import { describe, expect, it } from 'vitest';
import type { AuditEvent } from '../../src/domain/audit-event.js';
import { accessReport, renderReport } from '../../src/domain/report.js';

const T0 = Date.parse('2026-10-01T09:00:00Z');
const min = 60_000;
const where = { cluster: 'prod', namespace: 'payments', level: 'debug' };

const life = (
  grantId: string,
  startMin: number,
  events: [string, string, number, object?][],
): AuditEvent[] => [
  {
    action: 'requested',
    actor: 'U0ALICE',
    grantId,
    at: T0 + startMin * min,
    details: {
      ...where,
      durationSeconds: 3600,
      reason: 'CHG-1234 =HYPERLINK("x") | rollback',
      tickets: 'CHG-1234',
      principalArn: 'arn:aws:iam::111122223333:user/alice',
    },
  },
  ...events.map(([action, actor, at, details]) => ({
    action,
    actor,
    grantId,
    at: T0 + at * min,
    details: { ...where, ...(details ?? {}) },
  })),
];

const events: AuditEvent[] = [
  // Approved by two people, extended once, given back early.
  ...life('ea-aaaaaaaa', 0, [
    ['approval-progress', 'U0ANA', 2],
    ['approved', 'U0BEN', 3],
    ['activated', 'system', 4],
    ['extended', 'U0ANA', 30, { seconds: 1800 }],
    ['ending', 'U0ALICE', 50, { endReason: 'relinquished' }],
    ['relinquished', 'U0ALICE', 51],
  ]),
  // Denied.
  ...life('ea-bbbbbbbb', 10, [['denied', 'U0ANA', 12, { reason: 'not now' }]]),
  // Requested long before the window, still active inside it.
  ...life('ea-cccccccc', -600, [
    ['approved', 'auto:payments#0', -600],
    ['activated', 'system', -599],
  ]),
  // Over before the window opened.
  ...life('ea-dddddddd', -900, [
    ['approved', 'U0ANA', -899],
    ['activated', 'system', -898],
    ['expired', 'system', -838],
  ]),
  // Break-glass: escalated when nobody reviewed it, then flagged.
  {
    action: 'requested',
    actor: 'U0BOB',
    grantId: 'ea-gggggggg',
    at: T0 + 20 * min,
    details: { ...where, durationSeconds: 1800, reason: 'INC-7', breakGlass: 'oncall' },
  },
  {
    action: 'approved',
    actor: 'breakglass:oncall',
    grantId: 'ea-gggggggg',
    at: T0 + 20 * min,
    details: where,
  },
  { action: 'activated', actor: 'system', grantId: 'ea-gggggggg', at: T0 + 21 * min, details: where },
  {
    action: 'breakglass-review-overdue',
    actor: 'system',
    grantId: 'ea-gggggggg',
    at: T0 + 50 * min,
    details: where,
  },
  { action: 'breakglass-flagged', actor: 'U0ANA', grantId: 'ea-gggggggg', at: T0 + 55 * min, details: where },
  // Events of a grant whose request predates what we read: not guessed at.
  { action: 'activated', actor: 'system', grantId: 'ea-eeeeeeee', at: T0, details: where },
];

describe('access report', () => {
  const window = { since: T0 - 60 * min, until: T0 + 120 * min };
  const rows = accessReport(events, window);

  it('reports every grant whose life overlaps the window, with who approved, how long and how it ended', () => {
    expect(rows.map((r) => [r.grantId, r.outcome])).toEqual([
      ['ea-cccccccc', 'active'],
      ['ea-aaaaaaaa', 'relinquished'],
      ['ea-bbbbbbbb', 'denied'],
      ['ea-gggggggg', 'active'],
    ]);
    expect(rows.find((r) => r.grantId === 'ea-gggggggg')).toMatchObject({
      breakGlass: 'oncall',
      review: 'flagged',
      reviewedBy: 'U0ANA',
      approvers: ['breakglass:oncall'],
    });
    expect(rows.find((r) => r.grantId === 'ea-aaaaaaaa')?.breakGlass).toBeUndefined();
    const given = rows.find((r) => r.grantId === 'ea-aaaaaaaa');
    expect(given).toMatchObject({
      requester: 'U0ALICE',
      approvers: ['U0ANA', 'U0BEN'],
      requestedSeconds: 3600,
      activeSeconds: 47 * 60,
      extensions: 1,
      extensionSeconds: 1800,
      endedBy: 'U0ALICE',
      tickets: ['CHG-1234'],
    });
    expect(rows.find((r) => r.grantId === 'ea-bbbbbbbb')).toMatchObject({
      deniedBy: 'U0ANA',
      activeSeconds: 0,
    });
    // Still active: counted up to the end of the window.
    expect(rows.find((r) => r.grantId === 'ea-cccccccc')?.activeSeconds).toBe((599 + 120) * 60);
    expect(accessReport(events, { ...window, cluster: 'staging' })).toEqual([]);
  });

  it('renders CSV a spreadsheet cannot run, Markdown a reason cannot break, and JSON with ISO times', () => {
    const csv = renderReport(rows, 'csv', window).split('\r\n');
    expect(csv[0]).toBe(
      'grant,requester,principal,cluster,namespace,level,requested_at,requested_seconds,approvers,denied_by,activated_at,ended_at,active_seconds,extensions,extension_seconds,outcome,ended_by,break_glass,review,tickets,reason',
    );
    expect(csv[2]).toContain('"CHG-1234 =HYPERLINK(""x"") | rollback"');
    const formula = renderReport([{ ...(rows[0] as (typeof rows)[0]), reason: '=cmd()' }], 'csv', window);
    expect(formula).toContain(",'=cmd()");
    const md = renderReport(rows, 'md', window);
    expect(md).toContain('4 grant(s); 3 became active');
    expect(md).toContain('1 break-glass (0 not reviewed)');
    expect(md).toContain('CHG-1234 =HYPERLINK("x") \\| rollback');
    const json = JSON.parse(renderReport(rows, 'json', window)) as { requestedAt: string }[];
    expect(json[1]?.requestedAt).toBe('2026-10-01T09:00:00.000Z');
  });
});
