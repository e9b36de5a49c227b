// Break-glass (issue #12 §2) through the real Bolt App, the fake Slack, real Redis, the worker and the
// real kube-apiserver: an on-call member gets access at once and every approver is told directly; the
// rule's limits, groups and levels hold; nobody reviews it in time → re-posted and escalated; Flag
// revokes at once and records why; Acknowledge closes the review; the user cannot review their own.
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/domain/clock.js';
import { restoreBreakGlassCounts } from '../../src/engine/break-glass-counts.js';
import { pollUntil } from '../support/poll.js';
import { blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  BEN,
  clickOn,
  EVE,
  ephemeralTo,
  type Harness,
  harnessPool,
  refusalTo,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

const ONCALL = 'S0ONCALL';
const rules = (reviewWithin: string) => `breakGlass:
  - name: oncall
    groups: [${ONCALL}]
    namespaces: ["{namespace}"]
    levels: [view]
    maxDuration: 1h
    perPerson: { count: 1, per: 24h }
    reviewWithin: ${reviewWithin}
`;

async function useBreakGlass(h: Harness, user: string, text: string): Promise<string> {
  const after = h.slack.calls.length;
  await h.command(user, text);
  const reply = await ephemeralTo(h.slack, user, after);
  const id = /`(ea-[a-z2-9]{8})`/.exec(reply)?.[1];
  if (!id) throw new Error(`no grant id in ${reply}`);
  return id;
}

const dmTo = (h: Harness, user: string, words: string) =>
  h.slack.waitFor(
    'chat.postMessage',
    (c) => c.args.channel === `D${user.slice(1)}` && blocksText(c.args.blocks).includes(words),
    { timeoutMs: 30_000 },
  );

describe('break-glass', () => {
  it('on call: access at once, every approver told, limits hold; unreviewed it is escalated; Flag revokes and records why', async () => {
    const h = await pool.use({
      worker: true,
      createNamespace: true,
      usergroups: { [ONCALL]: [ALICE] },
      policyExtra: rules('4s'),
    });
    const id = await useBreakGlass(
      h,
      ALICE,
      `breakglass ${h.namespace} as view for 30m because INC-77 database down`,
    );
    const active = await pollUntil(
      'the break-glass grant to be active',
      () => h.store.get(id),
      (g) => g?.status === 'active',
      {
        timeoutMs: 30_000,
      },
    );
    expect(active?.approvals[0]).toMatchObject({ slackUserId: 'breakglass:oncall', viaGroups: [ONCALL] });
    expect(active?.reason).toBe('INC-77 database down');
    // Loud: both approvers (ANA by name, BEN through the platform group) get a DM of their own.
    for (const approver of [ANA, BEN]) {
      expect(blocksText((await dmTo(h, approver, 'used *break-glass*')).args.blocks)).toContain(
        'INC-77 database down',
      );
    }
    const message = await h.approvalMessage(id);
    const text = blocksText(h.slack.message(message.channel, message.ts)?.blocks);
    expect(text).toContain('*BREAK-GLASS* — granted at once, without an approver, by rule `oncall`');
    expect(text).toContain('*Needs review*');
    const requested = (await h.audit.read({ grantId: id })).find((e) => e.action === 'requested');
    expect(requested?.details).toMatchObject({ breakGlass: 'oncall' });

    // Nobody reviews it within 4 s: re-posted in the approval channel, audited once.
    const overdue = await h.slack.waitFor(
      'chat.postMessage',
      (c) =>
        c.args.channel === message.channel &&
        blocksText(c.args.blocks).includes('Break-glass review overdue'),
      { timeoutMs: 30_000 },
    );
    expect(blocksText(overdue.args.blocks)).toContain('overdue, escalated');
    await pollUntil(
      'the overdue review in the audit trail',
      () => h.audit.read({ grantId: id }),
      (events) => events.some((e) => e.action === 'breakglass-review-overdue'),
    );

    // The limits: a second use the same day, someone not on call, a level or a duration the rule does
    // not cover — each refused with why, nothing stored. Checked after the 4 s review deadline has
    // passed (and its escalation settled), so the deadline cannot change Redis between the snapshots.
    const before = await h.snapshot();
    for (const [user, command, words] of [
      [
        ALICE,
        `breakglass ${h.namespace} as view for 30m because again`,
        'used 1 time(s) in the last 24h by you',
      ],
      [EVE, `breakglass ${h.namespace} as view for 30m because me too`, 'you are in none of its groups'],
      [ALICE, `breakglass ${h.namespace} as view for 30m`, 'needs the incident'],
    ] as const) {
      const after = h.slack.calls.length;
      await h.command(user, command);
      expect(await refusalTo(h, user, after, words)).toContain(words);
    }
    expect(await h.snapshot()).toEqual(before);

    // The user cannot review their own use; BEN flags it with a reason, which revokes it at once.
    let after = h.slack.calls.length;
    await clickOn(h, ALICE, 'breakglass_ack', message);
    expect(await refusalTo(h, ALICE, after, 'cannot review your own')).toContain('cannot review your own');
    after = h.slack.calls.length;
    await clickOn(h, BEN, 'breakglass_flag', message);
    const modal = await h.slack.waitFor(
      'views.open',
      (c) => c.args.view.callback_id === 'breakglass_flag_modal',
      {
        after,
      },
    );
    await h.interact(
      h.slack.viewSubmission({
        user_id: BEN,
        view_id: String((modal.response['view'] as { id: string }).id),
        values: { reason: { value: { type: 'plain_text_input', value: 'no incident INC-77 exists' } } },
      }),
    );
    const revoked = await pollUntil(
      'the flagged grant to be revoked',
      () => h.store.get(id),
      (g) => g?.status === 'revoked',
      {
        timeoutMs: 30_000,
      },
    );
    expect(revoked?.breakGlass?.review).toMatchObject({
      verdict: 'flagged',
      by: BEN,
      why: 'no incident INC-77 exists',
    });
    expect(revoked?.endedBy).toBe(BEN);
    const flagged = (await h.audit.read({ grantId: id })).find((e) => e.action === 'breakglass-flagged');
    expect(flagged?.details).toMatchObject({ why: 'no incident INC-77 exists', rule: 'oncall' });
  });

  it('limits count every use in the window, however many other events came first (20 000 unrelated ones)', async () => {
    const h = await pool.use({
      usergroups: { [ONCALL]: [ALICE, ANA, BEN] },
      policyExtra: `${rules('1h')}    perRule: { count: 2, per: 24h }\n`,
    });
    // Events anyone can make (5 000 request + cancel pairs take seconds): written straight into the
    // stream, as the bot would, before any use. Counting the window through the stream saw only its
    // oldest 10 000 events, so the uses after them did not count.
    const pipeline = h.redis.pipeline();
    for (let i = 0; i < 20_000; i++) {
      const action = i % 2 === 0 ? 'requested' : 'cancelled';
      pipeline.xadd(
        `${h.prefix}audit`,
        '*',
        'action',
        action,
        'actor',
        EVE,
        'grantId',
        `ea-noise${i}`,
        'at',
        String(Date.now()),
        'details',
        '{}',
      );
    }
    await pipeline.exec();
    await useBreakGlass(h, ALICE, `breakglass ${h.namespace} as view for 30m because INC-90 one`);
    for (const [user, words] of [[ALICE, 'used 1 time(s) in the last 24h by you']] as const) {
      const after = h.slack.calls.length;
      await h.command(user, `breakglass ${h.namespace} as view for 30m because INC-90 again`);
      expect(await refusalTo(h, user, after, words)).toContain(words);
    }
    await useBreakGlass(h, ANA, `breakglass ${h.namespace} as view for 30m because INC-90 two`);
    const after = h.slack.calls.length;
    await h.command(BEN, `breakglass ${h.namespace} as view for 30m because INC-90 three`);
    expect(await refusalTo(h, BEN, after, 'used 2 time(s) in the last 24h;')).toContain('it allows 2');
    expect((await h.grants()).filter((g) => g.breakGlass)).toHaveLength(2);
  });

  it("limits hold after Redis lost its data: the counts come back from the archive's index", async () => {
    const h = await pool.use({ usergroups: { [ONCALL]: [ALICE] }, policyExtra: rules('1h') });
    const first = await useBreakGlass(
      h,
      ALICE,
      `breakglass ${h.namespace} as view for 30m because INC-91 one`,
    );
    await h.audit.settled();
    // Everything of this deployment in Redis goes (its keys share the prefix; other tests share the server).
    const keys = await h.redis.keys(`${h.prefix}*`);
    await h.redis.del(...keys);
    expect(await h.store.get(first)).toBeUndefined();
    // What the worker's reconcile sweep does when Redis does not say the counts were restored.
    const restored = await restoreBreakGlassCounts({
      policy: h.policy,
      audit: h.audit,
      archive: h.archive,
      clock: systemClock,
    });
    expect(restored).toBe(1);
    const after = h.slack.calls.length;
    await h.command(ALICE, `breakglass ${h.namespace} as view for 30m because INC-91 again`);
    expect(await refusalTo(h, ALICE, after, 'used 1 time(s) in the last 24h by you')).toContain(
      'it allows 1',
    );
    // Restored once: the next sweep leaves the counts alone.
    expect(
      await restoreBreakGlassCounts({
        policy: h.policy,
        audit: h.audit,
        archive: h.archive,
        clock: systemClock,
      }),
    ).toBeUndefined();
  });

  it('an approver acknowledges it: the review closes, the access runs its course, a second review is refused', async () => {
    const h = await pool.use({
      worker: true,
      createNamespace: true,
      usergroups: { [ONCALL]: [ALICE] },
      policyExtra: rules('1h'),
    });
    const id = await useBreakGlass(
      h,
      ALICE,
      `breakglass ${h.namespace} as view for 30m because INC-78 pager`,
    );
    await pollUntil(
      'active',
      () => h.store.get(id),
      (g) => g?.status === 'active',
      { timeoutMs: 30_000 },
    );
    const message = await h.approvalMessage(id);
    // BEN has the message open too and clicks a moment after ANA.
    const benLate = h.slack.blockActions({
      user_id: BEN,
      action_id: 'breakglass_ack',
      channel: message.channel,
      message_ts: message.ts,
    });
    await clickOn(h, ANA, 'breakglass_ack', message);
    const reviewed = await pollUntil(
      'reviewed',
      () => h.store.get(id),
      (g) => g?.breakGlass?.review !== undefined,
    );
    expect(reviewed?.breakGlass?.review).toMatchObject({ verdict: 'acknowledged', by: ANA });
    expect(reviewed?.status).toBe('active');
    await h.slack.waitFor(
      'chat.update',
      (c) =>
        c.args.ts === message.ts &&
        blocksText(c.args.blocks).includes('*Reviewed*: acknowledged by <@U0ANA>'),
    );
    const after = h.slack.calls.length;
    await h.interact(benLate);
    expect(await refusalTo(h, BEN, after, 'already acknowledged')).toContain(`<@${ANA}>`);
    expect((await h.store.get(id))?.breakGlass?.review?.by).toBe(ANA);
  });

  it('the same person sending it three times at once gets one use; the others are refused by the limit', async () => {
    const h = await pool.use({ usergroups: { [ONCALL]: [ALICE] }, policyExtra: rules('1h') });
    const after = h.slack.calls.length;
    // A double submit (or two bots): the three commands are handled concurrently.
    await Promise.all(
      ['INC-80 a', 'INC-80 b', 'INC-80 c'].map((incident) =>
        h.command(ALICE, `breakglass ${h.namespace} as view for 30m because ${incident}`),
      ),
    );
    const replies = await pollUntil(
      'three answers',
      async () =>
        h.slack.calls
          .slice(after)
          .filter((c) => c.method === 'response_url' || c.method === 'chat.postEphemeral')
          .map((c) => JSON.stringify(c.args)),
      (texts) => texts.filter((t) => /ea-[a-z2-9]{8}|used 1 time/.test(t)).length >= 3,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(replies.filter((t) => t.includes('used 1 time(s) in the last 24h by you'))).toHaveLength(2);
    const uses = (await h.audit.read({})).filter(
      (e) => e.action === 'requested' && e.details?.['breakGlass'] === 'oncall',
    );
    expect(uses).toHaveLength(1);
    expect(await h.store.listByRequester(ALICE)).toHaveLength(1);
  });
});
