// Requests shaped like real work (issue #14 §3, §4) and the access review (#12 §3), through the real Bolt
// App, the fake Slack, real Redis, the engine's worker and the real kube-apiserver: a reason without the
// required ticket is refused with the pattern and an example and stores nothing; a reference is linked
// on the approval message; an on-call member is auto-approved and a non-member is not; and
// `eks-access report` tells security who had access, who approved it, for how long and why.
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/bin/cli.js';
import { blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  BEN,
  clickOn,
  ephemeralTo,
  type Harness,
  harnessPool,
  refusalTo,
  requestedId,
  untilActive,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

const TICKETS = `change:
  pattern: "CHG-[0-9]{4,}"
  example: CHG-1234
  url: "https://tickets.example.com/browse/{ref}"`;
const ONCALL = 'S0ONCALL';

/** `eks-access report …` over this harness's audit trail, as the CLI prints it. */
async function report(h: Harness, args: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const code = await runCli(
    ['report', ...args],
    { env: {}, out: (t) => out.push(t), err: (t) => out.push(`ERR ${t}`) },
    {
      runtime: async () => ({
        store: h.store,
        audit: h.audit,
        archive: h.archive,
        endGrant: () => Promise.reject(new Error('report must not end grants')),
        reconcile: () => Promise.reject(new Error('report must not reconcile')),
        forged: () => Promise.reject(new Error('report must not look for forged bindings')),
        close: async () => {},
      }),
    },
  );
  return { code, out: out.join('') };
}

describe('ticket references', () => {
  it('a reason without one is refused with the pattern and an example, and nothing is stored', async () => {
    const h = await pool.use({ tickets: TICKETS, namespaceExtra: 'requireTicket: change' });
    const before = await h.snapshot();
    const after = h.slack.calls.length;
    await h.command(ALICE, `request ${h.namespace} as view for 30m because fixing the checkout`);
    const refusal = await refusalTo(h, ALICE, after, 'needs a ticket reference');
    expect(refusal).toContain(
      `Access to ${h.namespace} on ${h.cluster} needs a ticket reference in the reason`,
    );
    expect(refusal).toContain('CHG-1234');
    expect(refusal).toContain('CHG-[0-9]{4,}');
    expect(await h.snapshot()).toEqual(before);
    expect(await h.audit.read({})).toEqual([]);
  });

  it('a reference is linked on the approval message; the report shows the grant from request to give-back', async () => {
    const h = await pool.use({
      tickets: TICKETS,
      namespaceExtra: 'requireTicket: change',
      createNamespace: true,
      worker: true,
    });
    const id = await requestedId(
      h,
      ALICE,
      `request ${h.namespace} as view for 30m because CHG-4711 rollback`,
    );
    const message = await h.approvalMessage(id);
    expect(blocksText(h.slack.message(message.channel, message.ts)?.blocks)).toContain(
      '<https://tickets.example.com/browse/CHG-4711|CHG-4711> rollback',
    );
    expect((await h.store.get(id))?.tickets).toEqual(['CHG-4711']);
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    const after = h.slack.calls.length;
    await h.command(ALICE, `done ${id}`);
    await ephemeralTo(h.slack, ALICE, after);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Given back'),
      { after },
    );

    const csv = await report(h, ['--since', '1h', '--format', 'csv']);
    expect(csv.code).toBe(0);
    const [header, ...rows] = csv.out.trim().split('\r\n');
    const columns = (header ?? '').split(',');
    const row = rows.map((r) => r.split(',')).find((cells) => cells[0] === id);
    const cell = (name: string) => row?.[columns.indexOf(name)];
    expect(cell('requester')).toBe(ALICE);
    expect(cell('approvers')).toBe(ANA);
    expect(cell('namespace')).toBe(h.namespace);
    expect(cell('level')).toBe('view');
    expect(cell('requested_seconds')).toBe('1800');
    expect(cell('outcome')).toBe('relinquished');
    expect(cell('ended_by')).toBe(ALICE);
    expect(cell('tickets')).toBe('CHG-4711');
    expect(Number(cell('active_seconds'))).toBeLessThan(120);
    expect(cell('activated_at')).toMatch(/^\d{4}-\d\d-\d\dT/);

    const md = await report(h, ['--since', '1h', '--cluster', h.cluster]);
    expect(md.out).toContain(`| ${id} | ${ALICE} |`);
    expect((await report(h, ['--since', '1h', '--cluster', 'elsewhere'])).out).not.toContain(id);
    const refused = await report(h, ['--since', '1h', '--format', 'xml']);
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('--format xml is not one of csv, json, md');
  });
});

describe('on call', () => {
  it('a member of the on-call group is auto-approved and the message says why; a non-member waits for approvers', async () => {
    const h = await pool.use({
      usergroups: { [ONCALL]: [ALICE] },
      namespaceExtra: `autoApprove:\n  - { levels: [view], maxDuration: 1h, onCall: true, requesters: { groups: [${ONCALL}] } }`,
    });
    const id = await requestedId(
      h,
      ALICE,
      `request ${h.namespace} as view for 30m because INC-9 pager`,
      'was approved by policy',
    );
    const message = await h.approvalMessage(id);
    const text = blocksText(h.slack.message(message.channel, message.ts)?.blocks);
    expect(text).toContain(`auto-approval: <@${ALICE}> is on call (group <!subteam^${ONCALL}>`);
    const grant = await h.store.get(id);
    expect(grant?.approvals[0]).toMatchObject({ viaGroups: [ONCALL], onCall: true });
    const approved = (await h.audit.read({ grantId: id })).find((e) => e.action === 'approved');
    expect(approved?.details).toMatchObject({ viaGroups: ONCALL, rule: `auto:${h.namespace}#0` });

    // Not on call (the rotation holds someone else now): the same request waits for a person.
    const other = await pool.use({
      usergroups: { [ONCALL]: [BEN] },
      namespaceExtra: `autoApprove:\n  - { levels: [view], maxDuration: 1h, onCall: true, requesters: { groups: [${ONCALL}] } }`,
    });
    const pending = await requestedId(
      other,
      ALICE,
      `request ${other.namespace} as view for 30m because INC-9`,
    );
    expect((await other.store.get(pending))?.status).toBe('pending');
  });
});
