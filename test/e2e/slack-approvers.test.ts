// Approvers are actually asked (issue #10 §3): an undecided request reminds them in its thread before
// it lapses, every change of a request is a reply in that thread, approvers can Revoke an active grant
// from its message (anyone else is refused), and the buttons that cannot be undone ask first.
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { adminKubeConfig } from '../platform/context.js';
import { type Block, blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  clickOn,
  EVE,
  ephemeralTo,
  GROUP,
  type Harness,
  harnessPool,
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
    const h = await pool.use({ worker: true, pendingTimeout: '6s' });
    const id = await requestedId(h, ALICE, `request ${h.namespace} as view because INC-21`);
    const decided = await requestedId(h, ALICE, `request ${h.namespace} as view because INC-22`);
    const message = await h.approvalMessage(id);
    const other = await h.approvalMessage(decided);
    // The second is decided at once: its queued reminders must find nothing to do.
    await clickOn(h, ANA, 'approve', other);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Lapsed*'),
      { timeoutMs: 20_000 },
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
    // Halfway (3 s) and with a quarter left (4.5 s): the first before the second, both before the lapse.
    const grant = await h.store.get(id);
    expect(grant?.approverReminders).toBe(2);
    expect(threadText(h, message).at(-1)).toContain('Lapsed');
    expect(threadText(h, other).some((t) => t.includes(':bell:'))).toBe(false);
    expect((await h.store.get(decided))?.approverReminders).toBeUndefined();
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
    expect(revoke?.['confirm']).toMatchObject({ confirm: { text: 'Revoke' } });
    // The activation DM links to the approval message; its "I'm done" asks first.
    const dm = h.slack
      .callsTo('chat.postMessage')
      .find((c) => c.args.channel === `D${ALICE.slice(1)}` && blocksText(c.args.blocks).includes('Use it'));
    expect(blocksText(dm?.args.blocks)).toContain(
      `slack.com/archives/${message.channel}/p${message.ts.replace('.', '')}`,
    );
    expect(JSON.stringify(dm?.args.blocks)).toContain('Give access back?');

    // Not an approver: refused where he clicked, nothing moves.
    let after = h.slack.calls.length;
    await clickOn(h, EVE, 'revoke', message);
    expect(await ephemeralTo(h.slack, EVE, after, (t) => t.includes('not an approver'))).toContain(
      'Only approvers can revoke',
    );
    expect((await h.store.get(id))?.status).toBe('active');

    after = h.slack.calls.length;
    await clickOn(h, ANA, 'revoke', message);
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
    // The requester is told.
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === `D${ALICE.slice(1)}` && String(c.args.text).includes(`${id} ended`),
      { after },
    );
    await untilSlackDelivered(h);
    const story = threadText(h, message);
    expect(story.find((t) => t.includes('Approved by'))).toContain(`<@${ANA}>`);
    expect(story.some((t) => t.includes('Access is active until <!date^'))).toBe(true);
    expect(story.at(-1)).toContain(`Revoked* by <@${ANA}>`);
    // Revoke is gone once the grant has ended.
    expect(buttonsOf(h, message).some((b) => b['action_id'] === 'revoke')).toBe(false);
  });
});
