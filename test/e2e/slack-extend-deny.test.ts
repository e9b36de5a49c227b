// Extensions under `extend.mode: approval` that are denied, asked twice, or never decided, through the
// real Bolt App, the fake Slack, real Redis, the engine's worker and the real kube-apiserver.
import { afterEach, describe, expect, it } from 'vitest';
import { slackTime } from '../../src/adapters/slack/blocks.js';
import { blocksText, type View } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  BEN,
  bindingExpiry,
  clickOn,
  denyFormsLeftOpen,
  EVE,
  ephemeralTo,
  type Harness,
  harnessPool,
  refusalTo,
  requestedId,
  untilActive,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

/** `requester` asks for `view`, `approver` approves, the worker activates; then the requester asks for more. */
async function activeWithExtensionWaiting(
  h: Harness,
  requester: string,
  approver: string,
  grantFor = '30m',
  extendFor = '30m',
) {
  const id = await requestedId(h, requester, `request ${h.namespace} as view for ${grantFor} because INC-31`);
  const message = await h.approvalMessage(id);
  await clickOn(h, approver, 'approve', message);
  await untilActive(h, message);
  const expiresAt = (await h.store.get(id))?.expiresAt as number;
  const after = h.slack.calls.length;
  await h.command(requester, `extend ${id} for ${extendFor}`);
  expect(await ephemeralTo(h.slack, requester, after)).toContain('Asked the approvers');
  await h.slack.waitFor(
    'chat.update',
    (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Deny extension'),
    { after },
  );
  return { id, message, expiresAt };
}

/** A click that must be refused with `words`, opening no form and changing nothing in Redis or on the cluster. */
async function refusedClick(
  h: Harness,
  who: string,
  action: string,
  message: { channel: string; ts: string },
  id: string,
  words: string,
) {
  const snapshot = await h.snapshot();
  const expiry = await bindingExpiry(h, id);
  const after = h.slack.calls.length;
  await clickOn(h, who, action, message);
  expect(await refusalTo(h, who, after, words)).toContain(words);
  expect(denyFormsLeftOpen(h, after)).toEqual([]);
  expect(await h.snapshot()).toEqual(snapshot);
  expect(await bindingExpiry(h, id)).toBe(expiry);
}

describe('denying an extension under extend.mode: approval', () => {
  it('a second ask is refused, non-approvers cannot deny, an approver denies with a reason: expiry unchanged on the cluster and in Redis, DM, message, audit', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const { id, message, expiresAt } = await activeWithExtensionWaiting(h, ALICE, ANA);
    const cluster = new Date(expiresAt).toISOString();
    expect(await bindingExpiry(h, id)).toBe(cluster);

    // One extension waits at a time: the second ask is refused and the first stays as it was.
    let after = h.slack.calls.length;
    const waiting = await h.snapshot();
    await h.command(ALICE, `extend ${id} for 15m`);
    expect(await ephemeralTo(h.slack, ALICE, after)).toContain(
      `An extension of 30m is already waiting for approval on ${id}`,
    );
    expect(await h.snapshot()).toEqual(waiting);
    expect((await h.store.get(id))?.extensionRequest).toMatchObject({ by: ALICE, seconds: 1800 });

    // Neither a bystander nor the requester (not an approver here) may deny it.
    for (const who of [EVE, ALICE]) {
      await refusedClick(h, who, 'deny_extension', message, id, `You are not an approver for ${h.namespace}`);
    }

    // BEN approves through the user group; Deny asks for a reason first, like denying a request.
    after = h.slack.calls.length;
    await clickOn(h, BEN, 'deny_extension', message);
    const modal = await h.slack.waitFor(
      'views.open',
      (c) => c.args.view.callback_id === 'deny_extension_modal',
      { after },
    );
    const viewId = String((modal.response['view'] as View).id);
    const reason = (value: string) => ({ reason: { value: { type: 'plain_text_input', value } } });
    const empty = await h.interact(
      h.slack.viewSubmission({ user_id: BEN, view_id: viewId, values: reason(' ') }),
    );
    expect(JSON.stringify(empty.body)).toContain('Say why');
    expect((await h.store.get(id))?.extensionRequest).toMatchObject({ seconds: 1800 });

    const staleClicks = ['approve_extension', 'deny_extension'].map((action) =>
      h.slack.blockActions({
        user_id: ANA,
        action_id: action,
        channel: message.channel,
        message_ts: message.ts,
      }),
    );
    after = h.slack.calls.length;
    await h.interact(
      h.slack.viewSubmission({ user_id: BEN, view_id: viewId, values: reason('freeze <!channel> tonight') }),
    );
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('*denied*'),
      { after },
    );
    const dmText = blocksText(dm.args.blocks);
    expect(dmText).toContain('An extension of 30m was *denied* by <@U0BEN>: freeze &lt;!channel&gt; tonight');
    expect(dmText).toContain(`still ends at *${slackTime(expiresAt)}*`);
    const update = await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('was *denied* by <@U0BEN>'),
      { after },
    );
    expect(blocksText(update.args.blocks)).not.toContain('Approve extension');
    expect(blocksText(update.args.blocks)).not.toContain('Deny extension');

    const grant = await h.store.get(id);
    expect(grant?.status).toBe('active');
    expect(grant?.expiresAt).toBe(expiresAt);
    expect(grant?.extensionRequest).toBeUndefined();
    expect(grant?.extensions).toEqual([]);
    expect(await bindingExpiry(h, id)).toBe(cluster);
    const denied = (await h.audit.read({ grantId: id })).filter((e) => e.action === 'extension-denied');
    expect(denied).toEqual([
      expect.objectContaining({
        actor: BEN,
        details: expect.objectContaining({ seconds: 1800, reason: 'freeze <!channel> tonight' }),
      }),
    ]);
    expect((await h.audit.read({ grantId: id })).map((e) => e.action)).not.toContain('extended');

    // Clicks from a copy of the message still showing the buttons: nothing waits, nothing moves.
    for (const stale of staleClicks) {
      const snapshot = await h.snapshot();
      after = h.slack.calls.length;
      // Deny extension opens its form before it checks: the click needs a trigger id of its moment.
      await h.interact(h.slack.clickedNow(stale));
      // The stale buttons name the ask BEN denied, so the click is told so, with his reason.
      const words = `The extension of 30m on ${id} was already denied by <@U0BEN>`;
      expect(await refusalTo(h, ANA, after, words)).toContain(words);
      expect(await h.snapshot()).toEqual(snapshot);
      expect(denyFormsLeftOpen(h, after)).toEqual([]);
    }
    expect(await bindingExpiry(h, id)).toBe(cluster);

    // After a denial the requester may ask again.
    after = h.slack.calls.length;
    await h.command(ALICE, `extend ${id} for 15m`);
    expect(await ephemeralTo(h.slack, ALICE, after)).toContain('Asked the approvers');
    expect((await h.store.get(id))?.extensionRequest).toMatchObject({ seconds: 900 });
  });

  it('the requester who is also an approver cannot decide their own extension', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    // ANA is mapped to AWS and an approver of the namespace; BEN approves her request.
    const { id, message, expiresAt } = await activeWithExtensionWaiting(h, ANA, BEN);
    for (const action of ['deny_extension', 'approve_extension']) {
      await refusedClick(h, ANA, action, message, id, 'You cannot decide your own extension');
    }
    const grant = await h.store.get(id);
    expect(grant?.expiresAt).toBe(expiresAt);
    expect(grant?.extensionRequest).toMatchObject({ by: ANA, seconds: 1800 });
  });

  it('an extension nobody decides dies with the grant: the message and the DM say so, its buttons are gone', async () => {
    const h = await pool.use({
      createNamespace: true,
      worker: true,
      viewDuration: { default: '20s', max: '1m' },
      expiryWarning: '5s',
    });
    const { id, message, expiresAt } = await activeWithExtensionWaiting(h, ALICE, ANA, '20s', '30s');
    const ended = await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('*Expired*'),
      { timeoutMs: 45_000 },
    );
    const text = blocksText(ended.args.blocks);
    expect(text).toContain("<@U0ALICE>'s request for 30s more was not decided before the access ended");
    expect(text).not.toContain('Approve extension');
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('Expired'),
      { timeoutMs: 30_000 },
    );
    expect(blocksText(dm.args.blocks)).toContain('Your request for 30s more was not decided in time');
    const grant = await h.store.get(id);
    expect(grant?.status).toBe('expired');
    expect(grant?.expiresAt).toBe(expiresAt);
    expect(grant?.extensions).toEqual([]);
  });
});
