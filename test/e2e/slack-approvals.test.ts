// The approval flow through the real Bolt App, the fake Slack and real Redis: what people see
// (asserted from the fake's records) and what is stored (asserted from Redis).
import { afterEach, describe, expect, it } from 'vitest';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, BEN, clickOn, EVE, ephemeralTo, type Harness, harnessPool, NOBODY } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());
const harness = pool.use;

async function request(h: Harness, text = `request ${h.namespace} for 2h because INC-123 checkout errors`) {
  const after = h.slack.calls.length;
  await h.command(ALICE, text);
  const reply = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('Requested'));
  const id = /`(ea-[a-z2-9]{8})`/.exec(reply)?.[1];
  if (!id) throw new Error(`no grant id in ${reply}`);
  return { id, message: await h.approvalMessage(id) };
}

describe('requesting', () => {
  it('posts the approval message with who, what, where, how long, why and the preview', async () => {
    const h = await harness();
    const { id, message } = await request(h);
    const text = blocksText(h.slack.message(message.channel, message.ts)?.blocks);
    expect(text).toContain('<@U0ALICE>');
    expect(text).toContain('`debug`');
    expect(text).toContain(`\`${h.namespace}\` on \`dev\``);
    expect(text).toContain('2h');
    expect(text).toContain('INC-123 checkout errors');
    expect(text).toContain(`RoleBinding \`eks-access-${id}\``);
    expect(text).toContain('0 of 1 approval');
    expect(text).toMatch(
      /Lapses at <!date\^\d+\^\{date_short_pretty\} \{time\}\|\d{4}-\d\d-\d\d \d\d:\d\d UTC>/,
    );
    const [grant] = await h.grants();
    expect(grant?.status).toBe('pending');
    const audit = await h.audit.read({ grantId: id });
    expect(audit.map((e) => e.action)).toEqual(['requested']);
  });

  const badInputs: [string, string | ((h: Harness) => string), string][] = [
    ['unknown namespace', 'request nope for 1h because x', 'You can request: '],
    ['unknown cluster', (h) => `request ${h.namespace} on mars because x`, 'Clusters: dev.'],
    ['unknown level', (h) => `request ${h.namespace} as root because x`, 'Levels here: debug, view.'],
    [
      'too long',
      (h) => `request ${h.namespace} for 9h because x`,
      'You asked for 9h; debug allows at most 4h',
    ],
    ['malformed duration', (h) => `request ${h.namespace} for soon because x`, 'the maximum for debug is 4h'],
    ['missing reason', (h) => `request ${h.namespace} for 1h`, 'A reason is required'],
    ['unknown subcommand', 'frobnicate', '"frobnicate" is not an eks-access command'],
    ['tampered id', 'done ea-zzzz', '"ea-zzzz" is not a request id'],
    ['unknown id', 'cancel ea-abcdefgh', 'There is no request ea-abcdefgh'],
  ];
  it.each(badInputs)(
    '%s: an ephemeral saying what is valid, and nothing changes in Redis',
    async (_name, text, expected) => {
      const h = await harness();
      const before = await h.snapshot();
      const after = h.slack.calls.length;
      await h.command(ALICE, typeof text === 'string' ? text : text(h));
      expect(await ephemeralTo(h.slack, ALICE, after)).toContain(expected);
      expect(await h.snapshot()).toEqual(before);
      expect(h.slack.callsTo('chat.postMessage').filter((c) => c.args.channel === h.channel)).toEqual([]);
    },
  );

  it('a person not linked to AWS is told what an admin must add, and nothing is created', async () => {
    const h = await harness();
    const before = await h.snapshot();
    const after = h.slack.calls.length;
    await h.command(NOBODY, `request ${h.namespace} because x`);
    const text = await ephemeralTo(h.slack, NOBODY, after);
    expect(text).toContain('is not linked to an AWS user');
    expect(text).toContain(`${NOBODY}: arn:aws:iam::&lt;account&gt;:user/&lt;name&gt;`);
    expect(await h.snapshot()).toEqual(before);
  });

  it('a hostile reason cannot ping the channel', async () => {
    const h = await harness();
    const { message } = await request(
      h,
      `request ${h.namespace} because <!channel> <!here> ${'x'.repeat(480)}`,
    );
    const stored = h.slack.message(message.channel, message.ts);
    const all = `${stored?.text} ${JSON.stringify(stored?.blocks)}`;
    expect(all).not.toContain('<!channel>');
    expect(all).not.toContain('<!here>');
    expect(all).toContain('&lt;!channel&gt;');
  });
});

describe('deciding', () => {
  it('non-approvers and self-approval are refused and nothing moves', async () => {
    const h = await harness({ namespaceExtra: 'allowSelfApproval: false' });
    const { message } = await request(h);
    const before = await h.snapshot();
    let after = h.slack.calls.length;
    await clickOn(h, EVE, 'approve', message);
    expect(await ephemeralTo(h.slack, EVE, after)).toContain('You are not an approver for');
    after = h.slack.calls.length;
    await clickOn(h, ALICE, 'approve', message);
    expect(await ephemeralTo(h.slack, ALICE, after)).toContain('You are not an approver');
    expect(await h.snapshot()).toEqual(before);
  });

  it('a Deny that reaches us after Slack’s 3 s for its form says to click again, and nothing moves', async () => {
    const h = await harness();
    const { message } = await request(h);
    const before = await h.snapshot();
    const after = h.slack.calls.length;
    await h.interact(
      h.slack.clickedTooLongAgo(
        h.slack.blockActions({
          user_id: ANA,
          action_id: 'deny',
          channel: message.channel,
          message_ts: message.ts,
        }),
      ),
    );
    const answer = await ephemeralTo(h.slack, ANA, after);
    expect(answer).toContain('Slack allows 3 seconds after a click');
    expect(answer).toContain('Click the button again; nothing was changed.');
    expect(answer).not.toContain('Something went wrong');
    expect(await h.snapshot()).toEqual(before);
  });

  it('20 concurrent Approve clicks produce one approval; the others hear who approved', async () => {
    const h = await harness({ namespaceExtra: '' });
    h.slack.setUsergroup(
      'S0PLATFORM',
      Array.from({ length: 20 }, (_, i) => `U0APP${String(i).padStart(2, '0')}`),
    );
    const { id, message } = await request(h);
    const after = h.slack.calls.length;
    const clickers = Array.from({ length: 20 }, (_, i) => `U0APP${String(i).padStart(2, '0')}`);
    await Promise.all(clickers.map((u) => clickOn(h, u, 'approve', message)));
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Approved* by'),
      { after },
    );
    const grant = await h.store.get(id);
    expect(grant?.status).toBe('approved');
    expect(grant?.approvals).toHaveLength(1);
    const winner = grant?.approvals[0]?.slackUserId;
    // Each of the 19 others hears who won (awaited one by one from the fake's record, no sleeping).
    const refused = (c: { args: object }) =>
      JSON.stringify(c.args).includes(`already approved by <@${winner}>`);
    let from = after;
    for (let i = 0; i < 19; i++) {
      const call = await h.slack.waitFor('response_url', refused, { after: from });
      from = h.slack.calls.indexOf(call) + 1;
    }
    const losers = h.slack.calls.slice(after).filter((c) => c.method === 'response_url' && refused(c));
    expect(losers).toHaveLength(19);
    const audit = await h.audit.read({ grantId: id });
    expect(audit.filter((e) => e.action === 'approved')).toHaveLength(1);
  });

  it('Approve and Deny at once: exactly one outcome', async () => {
    const h = await harness();
    const { id, message } = await request(h);
    const denyClick = h.slack.blockActions({
      user_id: BEN,
      action_id: 'deny',
      channel: message.channel,
      message_ts: message.ts,
    });
    await h.interact(denyClick);
    const modal = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'deny_modal');
    const viewId = String((modal.response['view'] as { id: string }).id);
    await Promise.all([
      clickOn(h, ANA, 'approve', message),
      h.interact(
        h.slack.viewSubmission({
          user_id: BEN,
          view_id: viewId,
          values: { reason: { value: { type: 'plain_text_input', value: 'not during the freeze' } } },
        }),
      ),
    ]);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && /(Approved|Denied)\* by/.test(blocksText(c.args.blocks)),
    );
    const grant = await h.store.get(id);
    expect(['approved', 'denied']).toContain(grant?.status);
    const decisions = (await h.audit.read({ grantId: id })).filter(
      (e) => e.action === 'approved' || e.action === 'denied',
    );
    expect(decisions).toHaveLength(1);
  });

  it('Deny asks for a reason, the requester gets it by DM, the message shows it', async () => {
    const h = await harness();
    const { id, message } = await request(h);
    await clickOn(h, ANA, 'deny', message);
    const modal = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'deny_modal');
    const viewId = String((modal.response['view'] as { id: string }).id);
    const empty = await h.interact(
      h.slack.viewSubmission({
        user_id: ANA,
        view_id: viewId,
        values: { reason: { value: { type: 'plain_text_input', value: ' ' } } },
      }),
    );
    expect(JSON.stringify(empty.body)).toContain('response_action');
    expect((await h.store.get(id))?.status).toBe('pending');
    await h.interact(
      h.slack.viewSubmission({
        user_id: ANA,
        view_id: viewId,
        values: { reason: { value: { type: 'plain_text_input', value: 'use staging' } } },
      }),
    );
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('denied'),
    );
    expect(blocksText(dm.args.blocks)).toContain('*Reason:* use staging');
    await h.slack.waitFor(
      'chat.update',
      (c) =>
        c.args.ts === message.ts && blocksText(c.args.blocks).includes('Denied* by <@U0ANA>: use staging'),
    );
    expect((await h.store.get(id))?.status).toBe('denied');
  });

  it('quorum 2: the first approval shows "1 of 2" and grants nothing', async () => {
    const h = await harness({ approvals: 2 });
    const { id, message } = await request(h);
    const first = h.slack.calls.length;
    await clickOn(h, ANA, 'approve', message);
    // Her answer is awaited too, or it could arrive after `after` below and pass for the next one.
    expect(await ephemeralTo(h.slack, ANA, first, (t) => t.includes('is recorded'))).toContain('1 of 2');
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('1 of 2 approvals: <@U0ANA>'),
    );
    const grant = await h.store.get(id);
    expect(grant?.status).toBe('pending');
    expect(await h.scheduler.queue('activate').getJobCounts()).toMatchObject({ waiting: 0, active: 0 });
    // The same approver again does not count twice.
    const after = h.slack.calls.length;
    await clickOn(h, ANA, 'approve', message);
    expect(await ephemeralTo(h.slack, ANA, after)).toContain('You already approved this request');
    await clickOn(h, BEN, 'approve', message);
    await h.slack.waitFor(
      'chat.update',
      (c) =>
        c.args.ts === message.ts && blocksText(c.args.blocks).includes('Approved* by <@U0ANA>, <@U0BEN>'),
    );
    expect((await h.store.get(id))?.status).toBe('approved');
  });

  it('cancel by the requester; a click afterwards is refused', async () => {
    const h = await harness();
    const { id, message } = await request(h);
    // A click prepared while the buttons were still there, delivered after the cancel: a stale click.
    const stale = h.slack.blockActions({
      user_id: ANA,
      action_id: 'approve',
      channel: message.channel,
      message_ts: message.ts,
    });
    let after = h.slack.calls.length;
    await h.command(ALICE, `cancel ${id}`);
    expect(await ephemeralTo(h.slack, ALICE, after)).toContain(`Cancelled \`${id}\``);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Cancelled* by <@U0ALICE>'),
    );
    after = h.slack.calls.length;
    await h.interact(stale);
    expect(await ephemeralTo(h.slack, ANA, after)).toContain(`was cancelled by <@U0ALICE>`);
    expect((await h.store.get(id))?.status).toBe('cancelled');
  });

  it('App Home shows my pending requests and, for approvers, what waits for them', async () => {
    const h = await harness();
    const { id } = await request(h);
    const home = await h.slack.waitFor(
      'views.publish',
      (c) => c.args.user_id === ALICE && blocksText(c.args.view.blocks as never).includes(id),
    );
    expect(blocksText(home.args.view.blocks as never)).toContain('Your pending requests');
    const anaHome = await h.slack.waitFor(
      'views.publish',
      (c) => c.args.user_id === ANA && blocksText(c.args.view.blocks as never).includes(id),
    );
    expect(blocksText(anaHome.args.view.blocks as never)).toContain('Waiting for your approval');
    expect(blocksText(anaHome.args.view.blocks as never)).toContain('INC-123 checkout errors');
  });
});

describe('HTTP mode', () => {
  it('a forged signature gets 401 and no state; a 6-minute-old timestamp is refused', async () => {
    const h = await harness({ transport: 'http' });
    const before = await h.snapshot();
    const { sendSlashCommand } = await import('../support/slack/index.js');
    const url = `http://127.0.0.1:${h.bot.port}/slack/events`;
    const payload = h.slack.slashCommand({
      command: '/eks-access',
      text: `request ${h.namespace} because x`,
      user_id: ALICE,
      channel_id: h.channel,
    });
    const forged = await sendSlashCommand(url, payload, {
      signingSecret: h.signingSecret,
      forgeWithSecret: 'not-the-secret',
    });
    expect(forged.status).toBe(401);
    const stale = await sendSlashCommand(url, payload, {
      signingSecret: h.signingSecret,
      ageSeconds: 6 * 60,
    });
    expect(stale.status).toBe(401);
    expect(await h.snapshot()).toEqual(before);
    expect(h.slack.callsTo('chat.postMessage')).toEqual([]);
    // A correctly signed one works.
    const { id } = await request(h);
    expect((await h.store.get(id))?.status).toBe('pending');
  });
});
