// Approvers are actually asked (issue #10 §3): an undecided request reminds them in its thread before
// it lapses, every change of a request is a reply in that thread, approvers can Revoke an active grant
// from its message (anyone else is refused), and the buttons that cannot be undone ask first.
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { jobIdFor, QUEUES } from '../../src/adapters/queue/queues.js';
import type { Grant } from '../../src/domain/grant.js';
import { approvalReminderTimes } from '../../src/shared/reminders.js';
import { adminKubeConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { type Block, blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  BEN,
  clickOn,
  EVE,
  ephemeralTo,
  formShown,
  GROUP,
  type Harness,
  harnessPool,
  reasonValues,
  requestedId,
  untilActive,
  untilSlackDelivered,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

/** The replies in a message's thread, oldest first. */
const threadOf = (h: Harness, message: { channel: string; ts: string }) =>
  h.slack
    .callsTo('chat.postMessage')
    .filter(
      (c) =>
        c.response['ok'] === true && c.args.channel === message.channel && c.args.thread_ts === message.ts,
    );

const threadText = (h: Harness, message: { channel: string; ts: string }) =>
  threadOf(h, message).map((c) => String(c.args.text ?? ''));

/** The buttons of the message as Slack shows it now. */
function buttonsOf(h: Harness, message: { channel: string; ts: string }): Record<string, unknown>[] {
  const blocks = (h.slack.messages(message.channel).find((m) => m.ts === message.ts)?.blocks ??
    []) as Block[];
  return blocks
    .filter((b) => b['type'] === 'actions')
    .flatMap((b) => b['elements'] as Record<string, unknown>[]);
}

describe('an undecided request', () => {
  it('reminds its approvers in the thread at half and three quarters of its wait, then lapses', async () => {
    // Reminders at half (4 s) and three quarters (6 s) of the wait, the lapse at 8 s: far enough apart
    // that a loaded machine running a job a second late still delivers each reminder before the lapse.
    const h = await pool.use({ worker: true, pendingTimeout: '8s' });
    // One request is decided at once, before its first reminder is due: its queued reminders are
    // dropped from the queue. It is requested first, so nothing else stands between it and the click.
    const decided = await requestedId(h, ALICE, `request ${h.namespace} as view because INC-22`);
    const other = await h.approvalMessage(decided);
    const grant = await h.store.get(decided);
    const jobs = () =>
      Promise.all(
        approvalReminderTimes(grant as Grant).map((at) =>
          h.scheduler.queue(QUEUES.remind).getJob(jobIdFor('nudge', decided, at)),
        ),
      );
    expect((await jobs()).every(Boolean)).toBe(true);
    await clickOn(h, ANA, 'approve', other);
    await pollUntil(
      'the decided request’s reminders to be dropped',
      jobs,
      (found) => found.every((j) => !j),
      { intervalMs: 50 },
    );
    // The other waits for nobody.
    const id = await requestedId(h, ALICE, `request ${h.namespace} as view because INC-21`);
    const message = await h.approvalMessage(id);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Lapsed*'),
    );
    await untilSlackDelivered(h);

    const reminders = threadOf(h, message).filter((c) => String(c.args.text).includes(':bell:'));
    expect(reminders).toHaveLength(2);
    for (const reminder of reminders) {
      // Shown in the channel too, mentioning the approvers for real (a person and a user group).
      // The client sends form fields: the flag arrives as text.
      expect(String(reminder.args['reply_broadcast'])).toBe('true');
      expect(reminder.args.text).toContain(`<@${ANA}>`);
      expect(reminder.args.text).toContain(`<!subteam^${GROUP}>`);
      expect(reminder.args.text).toMatch(/lapses <!date\^\d+\^\{date_short_pretty\} \{time\}\|[^>]+ UTC>/);
    }
    // Halfway (4 s) and with a quarter left (6 s): the first before the second, both before the lapse.
    expect((await h.store.get(id))?.approverReminders).toBe(2);
    expect(threadText(h, message).at(-1)).toContain('Lapsed');
    expect(threadText(h, other).some((t) => t.includes(':bell:'))).toBe(false);
    expect((await h.store.get(decided))?.approverReminders).toBeUndefined();
  });
  it('without an approval message (the bot is not in the channel), reminds each approver by DM', async () => {
    // Reminders at 3 s and 4.5 s, the lapse at 6 s (a reminder that comes after the lapse is not sent).
    const h = await pool.use({ worker: true, pendingTimeout: '6s' });
    h.slack.addChannel(h.channel, { bot: false });
    const id = await requestedId(h, ALICE, `request ${h.namespace} as view because INC-24`);
    await pollUntil(
      'the request to lapse',
      async () => (await h.store.get(id))?.status,
      (s) => s === 'cancelled',
      { intervalMs: 100 },
    );
    await untilSlackDelivered(h);
    const reminded = (user: string) =>
      h.slack
        .callsTo('chat.postMessage')
        .filter(
          (c) =>
            c.response['ok'] === true &&
            c.args.channel === `D${user.slice(1)}` &&
            blocksText(c.args.blocks).includes(':bell:') &&
            blocksText(c.args.blocks).includes(id),
        );
    // ANA by name, BEN through the user group; twice each; never the requester.
    expect(reminded(ANA)).toHaveLength(2);
    expect(reminded(BEN)).toHaveLength(2);
    expect(reminded(ALICE)).toHaveLength(0);
  });
});

describe('the approval message of a granted request', () => {
  it('tells its story in the thread, links the DMs to it, and carries Revoke for approvers only', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-23`);
    const message = await h.approvalMessage(id);
    // debug is a privileged level: Slack asks before the approval goes out.
    const approve = buttonsOf(h, message).find((b) => b['action_id'] === 'approve');
    expect(approve?.['confirm']).toMatchObject({ title: { text: 'Approve privileged access?' } });
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    await untilSlackDelivered(h);

    const revoke = buttonsOf(h, message).find((b) => b['action_id'] === 'revoke');
    expect(revoke?.['confirm']).toMatchObject({
      title: { text: 'Revoke access?' },
      confirm: { text: 'Revoke' },
      deny: { text: 'Cancel' },
    });
    // The activation DM links to the approval message; its "I'm done" asks first.
    const dm = h.slack
      .callsTo('chat.postMessage')
      .find((c) => c.args.channel === `D${ALICE.slice(1)}` && blocksText(c.args.blocks).includes('Use it'));
    expect(blocksText(dm?.args.blocks)).toContain(
      `slack.com/archives/${message.channel}/p${message.ts.replace('.', '')}`,
    );
    expect(JSON.stringify(dm?.args.blocks)).toContain('Give access back?');

    // Not an approver: the form that opened says so instead of asking a reason; nothing moves.
    let after = h.slack.calls.length;
    await clickOn(h, EVE, 'revoke', message);
    const refused = await h.slack.waitFor(
      'views.update',
      (c) => blocksText(c.args.view?.blocks as Block[]).includes('not an approver'),
      { after },
    );
    expect(blocksText(refused.args.view?.blocks as Block[])).toContain('Only approvers can revoke');
    expect((await h.store.get(id))?.status).toBe('active');

    // An approver: the form asks why (required; Slack shows the error next to the field) …
    after = h.slack.calls.length;
    await clickOn(h, ANA, 'revoke', message);
    const form = await formShown(h, 'views.open', 'revoke_modal', after);
    expect(form.view['submit']).toMatchObject({ text: 'Revoke' });
    const empty = await h.interact(
      h.slack.viewSubmission({ user_id: ANA, view_id: form.id, values: reasonValues('  ') }),
    );
    expect(JSON.stringify(empty.body)).toContain('the person who loses access');
    expect((await h.store.get(id))?.status).toBe('active');
    // … and with a reason, access ends and the reason travels to the requester and the audit trail.
    await h.interact(
      h.slack.viewSubmission({
        user_id: ANA,
        view_id: form.id,
        values: reasonValues('INC-23 is closed <!channel>'),
      }),
    );
    expect(await ephemeralTo(h.slack, ANA, after, (t) => t.includes('Revoking'))).toContain(id);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes(`Revoked* by <@${ANA}>`),
      { timeoutMs: 30_000 },
    );
    // Access is gone on the cluster: the RoleBinding the grant created no longer exists.
    const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    await expect(
      rbac.readNamespacedRoleBinding({ name: `eks-access-${id}`, namespace: h.namespace }),
    ).rejects.toMatchObject({ code: 404 });
    // The requester is told, with the approver's reason (escaped: it mentions nobody).
    const ended = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === `D${ALICE.slice(1)}` && String(c.args.text).includes(`${id} ended`),
      { after },
    );
    expect(blocksText(ended.args.blocks)).toContain('*Reason:* INC-23 is closed &lt;!channel&gt;');
    const ending = (await h.audit.read({ grantId: id })).find((e) => e.action === 'ending');
    expect(ending?.details).toMatchObject({ reason: 'INC-23 is closed <!channel>' });
    await untilSlackDelivered(h);
    const story = threadText(h, message);
    expect(story.find((t) => t.includes('Approved by'))).toContain(`<@${ANA}>`);
    expect(story.some((t) => t.includes('Access is active until <!date^'))).toBe(true);
    expect(story.at(-1)).toContain(`Revoked* by <@${ANA}>`);
    // Revoke is gone once the grant has ended.
    expect(buttonsOf(h, message).some((b) => b['action_id'] === 'revoke')).toBe(false);
  });
});
