// Waiting extensions where approvers look for work (`/eks-access approvals`, App Home), and Approve
// extension racing Deny extension, through the real Bolt App, the fake Slack, real Redis, the engine's
// worker and the real kube-apiserver.
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
  homeWhere,
  openHome,
  refusalTo,
  requestedId,
  untilActive,
  untilExtendJobsDone,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

/** ALICE's `view` grant, approved by ANA and active, with an extension of `more` waiting. */
async function extensionWaiting(h: Harness, more = '30m') {
  const id = await requestedId(h, ALICE, `request ${h.namespace} as view for 30m because INC-41`);
  const message = await h.approvalMessage(id);
  await clickOn(h, ANA, 'approve', message);
  await untilActive(h, message);
  await ask(h, more, id, message);
  return { id, message };
}

async function ask(h: Harness, more: string, id: string, message: { ts: string }) {
  const after = h.slack.calls.length;
  await h.command(ALICE, `extend ${id} for ${more}`);
  expect(await ephemeralTo(h.slack, ALICE, after)).toContain('Asked the approvers');
  await h.slack.waitFor(
    'chat.update',
    (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Deny extension'),
    { after },
  );
}

/** The text of `approvals` as `user` sees it, and its blocks as JSON (for the buttons). */
async function approvals(h: Harness, user: string) {
  const after = h.slack.calls.length;
  await h.command(user, 'approvals');
  const reply = await h.slack.waitFor('response_url', (c) => c.responseTo?.user === user, { after });
  expect(reply.args.response_type).toBe('ephemeral');
  return { text: blocksText(reply.args.blocks), json: JSON.stringify(reply.args.blocks) };
}

async function home(h: Harness, user: string) {
  const after = h.slack.calls.length;
  await openHome(h, user);
  return homeWhere(h, user, after, () => true);
}

/** The buttons carry the grant id and the ask they decide (`<grant id>/<extension id>`). */
const buttons = (id: string, extensionId: string) => [
  `"action_id":"approve_extension","value":"${id}/${extensionId}"`,
  `"action_id":"deny_extension","value":"${id}/${extensionId}"`,
];

describe('waiting extensions in approvals and App Home', () => {
  it('approvers (by id and by group) see who asks how much more on which grant, with buttons that act like the message’s; the requester and bystanders do not', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const { id, message } = await extensionWaiting(h);
    const grant = await h.store.get(id);
    const expiresAt = grant?.expiresAt as number;
    const line = `<@U0ALICE> asks for 30m more on \`${id}\` · \`view\` in \`${h.namespace}\` on \`dev\`, which ends at ${slackTime(expiresAt)}`;

    for (const approver of [ANA, BEN]) {
      const list = await approvals(h, approver);
      expect(list.text).toContain('*Waiting for your approval* (1)');
      expect(list.text).toContain(line);
      for (const b of buttons(id, grant?.extensionRequest?.id as string)) expect(list.json).toContain(b);
      const tab = await home(h, approver);
      expect(tab.text).toContain(line);
      expect(tab.text).toContain('Approve extension');
    }
    for (const other of [ALICE, EVE]) {
      expect((await approvals(h, other)).text).toContain('Nothing waits for your approval');
      const tab = await home(h, other);
      expect(tab.text).not.toContain('Approve extension');
      expect(tab.text).not.toContain('asks for 30m more');
    }

    // A bystander clicking Deny extension on an old copy of BEN's tab is refused and nothing moves.
    const benTab = await home(h, BEN);
    const snapshot = await h.snapshot();
    let after = h.slack.calls.length;
    await h.interact(h.slack.blockActions({ user_id: EVE, action_id: 'deny_extension', view_id: benTab.id }));
    expect(await refusalTo(h, EVE, after, 'You are not an approver')).toContain('You are not an approver');
    expect(denyFormsLeftOpen(h, after)).toEqual([]);
    expect(await h.snapshot()).toEqual(snapshot);

    // BEN approves from his Home tab: the expiry moves once, on the cluster and in Redis; the tab drops it.
    after = h.slack.calls.length;
    await h.interact(
      h.slack.blockActions({ user_id: BEN, action_id: 'approve_extension', view_id: benTab.id }),
    );
    const later = expiresAt + 1_800_000;
    await h.slack.waitFor(
      'chat.postMessage',
      (c) =>
        c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('extended your access by 30m'),
      { after, timeoutMs: 30_000 },
    );
    const extended = await h.store.get(id);
    expect(extended?.expiresAt).toBe(later);
    expect(extended?.extensionRequest).toBeUndefined();
    expect(extended?.extensions).toEqual([expect.objectContaining({ by: BEN, seconds: 1800, auto: false })]);
    expect(await bindingExpiry(h, id)).toBe(new Date(later).toISOString());
    const dropped = await homeWhere(h, BEN, after, (t) => !t.includes('asks for 30m more'));
    expect(dropped.text).not.toContain('Approve extension');
    expect((await approvals(h, ANA)).text).toContain('Nothing waits for your approval');

    // Asked again: ANA denies from her Home tab with a reason; the expiry stays.
    await ask(h, '15m', id, message);
    const anaTab = await home(h, ANA);
    expect(anaTab.text).toContain(`asks for 15m more on \`${id}\``);
    after = h.slack.calls.length;
    await h.interact(h.slack.blockActions({ user_id: ANA, action_id: 'deny_extension', view_id: anaTab.id }));
    const modal = await h.slack.waitFor(
      'views.open',
      (c) => c.args.view.callback_id === 'deny_extension_modal',
      { after },
    );
    after = h.slack.calls.length;
    await h.interact(
      h.slack.viewSubmission({
        user_id: ANA,
        view_id: String((modal.response['view'] as View).id),
        values: { reason: { value: { type: 'plain_text_input', value: 'enough for today' } } },
      }),
    );
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('enough for today'),
      { after },
    );
    const denied = await h.store.get(id);
    expect(denied?.expiresAt).toBe(later);
    expect(denied?.extensionRequest).toBeUndefined();
    expect(denied?.extensionDenial).toMatchObject({ by: ANA, seconds: 900 });
    expect(await bindingExpiry(h, id)).toBe(new Date(later).toISOString());
    await homeWhere(h, ANA, after, (t) => !t.includes('asks for 15m more'));
  });
});

/** BEN clicks Deny extension (the check passes, the form opens); resolves with a function that sends it. */
async function denyFormOpen(h: Harness, message: { channel: string; ts: string }, reason: string) {
  const after = h.slack.calls.length;
  await clickOn(h, BEN, 'deny_extension', message);
  const modal = await h.slack.waitFor(
    'views.open',
    (c) => c.args.view.callback_id === 'deny_extension_modal',
    { after },
  );
  return () =>
    h.interact(
      h.slack.viewSubmission({
        user_id: BEN,
        view_id: String((modal.response['view'] as View).id),
        values: { reason: { value: { type: 'plain_text_input', value: reason } } },
      }),
    );
}

describe('one approver decides while another is deciding', () => {
  it('ANA approves while BEN has the Deny form open: his denial is refused naming ANA, the expiry moved once', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const { id, message } = await extensionWaiting(h);
    const before = (await h.store.get(id))?.expiresAt as number;
    const submit = await denyFormOpen(h, message, 'not tonight');
    let after = h.slack.calls.length;
    await clickOn(h, ANA, 'approve_extension', message);
    // Her own answer too: a late one would otherwise be taken for BEN's below (both are response_urls).
    expect(await ephemeralTo(h.slack, ANA, after, (t) => t.includes('Approved;'))).toContain(
      'the new end time',
    );
    await h.slack.waitFor(
      'chat.postMessage',
      (c) =>
        c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('extended your access by 30m'),
      { after, timeoutMs: 30_000 },
    );
    await untilExtendJobsDone(h);
    const snapshot = await h.snapshot();
    after = h.slack.calls.length;
    await submit();
    const refusal = await ephemeralTo(h.slack, BEN, after);
    expect(refusal).toContain(`The extension of 30m on ${id} was already approved by <@U0ANA>`);
    // A Slack date (each reader's own time zone), to the minute as the domain's UTC text.
    expect(refusal).toContain(
      `The access now ends at ${slackTime(Math.floor((before + 1_800_000) / 60_000) * 60_000)}`,
    );
    expect(await h.snapshot()).toEqual(snapshot);
    const grant = await h.store.get(id);
    expect(grant?.expiresAt).toBe(before + 1_800_000);
    expect(grant?.extensionDenial).toBeUndefined();
    expect(await bindingExpiry(h, id)).toBe(new Date(before + 1_800_000).toISOString());
    const actions = (await h.audit.read({ grantId: id })).map((e) => e.action);
    expect(actions.filter((a) => a === 'extended')).toHaveLength(1);
    expect(actions).not.toContain('extension-denied');
  });

  it('BEN denies first: ANA’s Approve extension click is refused naming BEN and his reason, the expiry unchanged', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const { id, message } = await extensionWaiting(h);
    const before = (await h.store.get(id))?.expiresAt as number;
    const submit = await denyFormOpen(h, message, 'not tonight');
    // ANA's click comes from the message as she saw it, still with the buttons.
    const click = h.slack.blockActions({
      user_id: ANA,
      action_id: 'approve_extension',
      channel: message.channel,
      message_ts: message.ts,
    });
    let after = h.slack.calls.length;
    await submit();
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('not tonight'),
      { after },
    );
    const snapshot = await h.snapshot();
    after = h.slack.calls.length;
    await h.interact(click);
    const refusal = await ephemeralTo(h.slack, ANA, after);
    // Her button names the ask BEN denied, so she is told exactly that.
    expect(refusal).toContain(`The extension of 30m on ${id} was already denied by <@U0BEN>`);
    expect(refusal).toContain('Their reason: not tonight.');
    expect(await h.snapshot()).toEqual(snapshot);
    expect((await h.store.get(id))?.expiresAt).toBe(before);
    expect(await bindingExpiry(h, id)).toBe(new Date(before).toISOString());
    expect((await h.audit.read({ grantId: id })).map((e) => e.action)).not.toContain('extended');
  });
});

describe('Approve extension and Deny extension at the same moment', () => {
  for (const first of ['approve', 'deny'] as const) {
    it(`exactly one outcome, and the loser is told who decided (${first} sent first)`, async () => {
      const h = await pool.use({ createNamespace: true, worker: true });
      const { id, message } = await extensionWaiting(h);
      const before = (await h.store.get(id))?.expiresAt as number;

      // BEN has the Deny form open (the click passed the check) when ANA clicks Approve extension.
      const submit = await denyFormOpen(h, message, 'not tonight');
      const approve = () => clickOn(h, ANA, 'approve_extension', message);
      const after = h.slack.calls.length;
      await Promise.all(first === 'approve' ? [approve(), submit()] : [submit(), approve()]);

      // Exactly one of them hears "already …", where they clicked (both answers use the response_url).
      const loser = await h.slack.waitFor(
        'response_url',
        (c) =>
          /(already denied|\(30m\) was denied) by <@U0BEN>|was already approved by/.test(
            JSON.stringify(c.args),
          ),
        { after },
      );
      const approved = JSON.stringify(loser.args).includes('was already approved by');
      const trail = async () =>
        (await h.audit.read({ grantId: id })).filter(
          (e) => e.action === 'extended' || e.action === 'extension-denied',
        );
      if (approved) {
        // The approval wins: the expiry moved once, no denial anywhere.
        await h.slack.waitFor(
          'chat.postMessage',
          (c) =>
            c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('extended your access by 30m'),
          { after, timeoutMs: 30_000 },
        );
        const grant = await h.store.get(id);
        expect(grant?.expiresAt).toBe(before + 1_800_000);
        expect(grant?.extensions).toEqual([expect.objectContaining({ by: ANA, seconds: 1800 })]);
        expect(grant?.extensionDenial).toBeUndefined();
        expect(await bindingExpiry(h, id)).toBe(new Date(before + 1_800_000).toISOString());
        expect((await trail()).map((e) => e.action)).toEqual(['extended']);
        expect(blocksText(loser.args['blocks'] as never)).toMatch(
          /The extension of 30m on ea-[a-z2-9]{8} was already approved by (<@U0ANA>|another approver)/,
        );
      } else {
        // The denial wins: the expiry is unchanged on the cluster and in Redis, nothing was extended.
        await h.slack.waitFor(
          'chat.postMessage',
          (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('not tonight'),
          { after },
        );
        const grant = await h.store.get(id);
        expect(grant?.expiresAt).toBe(before);
        expect(grant?.extensions).toEqual([]);
        expect(grant?.extensionDenial).toMatchObject({ by: BEN, seconds: 1800 });
        expect(await bindingExpiry(h, id)).toBe(new Date(before).toISOString());
        expect((await trail()).map((e) => e.action)).toEqual(['extension-denied']);
        // Told by name whether ANA's click read the grant before or after BEN's denial landed.
        expect(blocksText(loser.args['blocks'] as never)).toMatch(
          /(The extension of 30m on ea-[a-z2-9]{8} was already denied|The last one \(30m\) was denied) by <@U0BEN>/,
        );
      }
      expect((await h.store.get(id))?.extensionRequest).toBeUndefined();
      // The winner heard no refusal.
      const refusals = h.slack.calls
        .slice(after)
        .filter((c) => JSON.stringify(c.args).includes('That already changed'));
      expect(refusals).toHaveLength(1);
    });
  }
});
