// Approvers give a reason and may shorten, never lengthen (issue #14 §1, §3), through the real Bolt App,
// the fake Slack and real Redis: where the namespace asks for a reason, Approve opens a form; an approval
// without the required reason is refused and nothing moves; the reason and the shorter duration are
// recorded; a longer one is refused.
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.js';
import { ALICE, ANA, clickOn, ephemeralTo, harnessPool, refusalTo, requestedId } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('an approval with a reason', () => {
  it('Approve opens a form; no reason is refused; the reason and a shorter duration are recorded', async () => {
    const h = await pool.use({ namespaceExtra: 'approvalReason: required' });
    const id = await requestedId(h, ALICE, `request ${h.namespace} as view for 2h because INC-5 migration`);
    const message = await h.approvalMessage(id);
    let after = h.slack.calls.length;
    await clickOn(h, ANA, 'approve', message);
    const opened = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'approve_modal', {
      after,
    });
    const viewId = String((opened.response['view'] as { id: string }).id);

    // Without the reason: said next to the field, the form stays open, the request still waits.
    const snapshot = await h.snapshot();
    const empty = await h.interact(h.slack.viewSubmission({ user_id: ANA, view_id: viewId, values: {} }));
    expect(JSON.stringify(empty.body)).toContain('Say why you approve');
    expect(await h.snapshot()).toEqual(snapshot);
    // The command without a reason is refused the same way.
    after = h.slack.calls.length;
    await h.command(ANA, `approve ${id}`);
    expect(await refusalTo(h, ANA, after, 'need a reason')).toContain(
      `Approvals in ${h.namespace} on ${h.cluster} need a reason`,
    );
    expect(await h.snapshot()).toEqual(snapshot);

    // With a reason and 1h instead of 2h.
    await h.interact(
      h.slack.viewSubmission({
        user_id: ANA,
        view_id: viewId,
        values: {
          reason: { value: { type: 'plain_text_input', value: 'fine for the migration window' } },
          duration: { value: { type: 'static_select', selected_option: { value: '3600' } } },
        },
      }),
    );
    // The form closes at once (Slack's 3 s); the decision follows it.
    const approved = await pollUntil(
      'the approval',
      () => h.store.get(id),
      (g) => g?.status === 'approved',
    );
    expect(approved?.durationSeconds).toBe(3600);
    expect(approved?.approvals[0]?.reason).toBe('fine for the migration window');
    // The audit entry is written after the grant (decide: store, then audit, then Slack).
    const trail = await pollUntil(
      'the approval in the audit trail',
      () => h.audit.read({ grantId: id }),
      (events) => events.some((e) => e.action === 'approved'),
    );
    const event = trail.find((e) => e.action === 'approved');
    expect(event?.details).toMatchObject({
      reason: 'fine for the migration window',
      shortenedToSeconds: 3600,
    });
  });

  it('from the command: shorter is fine, longer is refused and changes nothing', async () => {
    const h = await pool.use({ namespaceExtra: 'approvalReason: optional' });
    const id = await requestedId(h, ALICE, `request ${h.namespace} as view for 1h because INC-6`);
    const before = await h.snapshot();
    let after = h.slack.calls.length;
    await h.command(ANA, `approve ${id} for 3h because why not`);
    expect(await refusalTo(h, ANA, after, 'never lengthen')).toContain('never lengthen');
    expect(await h.snapshot()).toEqual(before);
    after = h.slack.calls.length;
    await h.command(ANA, `approve ${id} for 30m`);
    expect(await ephemeralTo(h.slack, ANA, after)).toContain(`Approved \`${id}\` for 30m.`);
    expect((await h.store.get(id))?.durationSeconds).toBe(1800);
  });
});
