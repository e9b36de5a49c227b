// Extensions that need an approver, and requests an auto-approve rule grants without a click, through
// the real Bolt App, the fake Slack, real Redis, the engine's worker and the real kube-apiserver.
import { afterEach, describe, expect, it } from 'vitest';
import { blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  bindingExpiry,
  clickOn,
  EVE,
  ephemeralTo,
  harnessPool,
  requestedId,
  untilActive,
  untilSlackDelivered,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('extension under extend.mode: approval', () => {
  it('the requester asks, approvers see it, a non-approver is refused, an approver moves the expiry on the cluster and in Redis', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const id = await requestedId(
      h,
      ALICE,
      `request ${h.namespace} as view for 30m because INC-21`,
      'Requested',
    );
    const message = await h.approvalMessage(id);
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    // The activation's thread note too, so the next note in the thread is the extension's.
    await untilSlackDelivered(h);
    const before = (await h.store.get(id))?.expiresAt as number;
    expect(await bindingExpiry(h, id)).toBe(new Date(before).toISOString());

    let after = h.slack.calls.length;
    await h.command(ALICE, `extend ${id} for 30m`);
    expect(await ephemeralTo(h.slack, ALICE, after)).toContain(
      `Asked the approvers of \`${h.namespace}\` on \`dev\` for 30m more on \`${id}\``,
    );
    // Approvers see it on the message, with a button, and in its thread.
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('<@U0ALICE> asks for 30m more.'),
      { after },
    );
    const note = await h.slack.waitFor('chat.postMessage', (c) => c.args.thread_ts === message.ts, { after });
    expect(note.args.text).toBe('<@U0ALICE> asks to extend this by 30m.');
    expect((await h.store.get(id))?.extensionRequest).toMatchObject({ by: ALICE, seconds: 1800 });
    const audit = await h.audit.read({ grantId: id });
    expect(audit.map((e) => e.action)).toContain('extension-requested');

    // Neither a bystander nor the requester (not an approver here) can approve it; nothing moves.
    for (const who of [EVE, ALICE]) {
      const snapshot = await h.snapshot();
      after = h.slack.calls.length;
      await clickOn(h, who, 'approve_extension', message);
      const refusal = await ephemeralTo(h.slack, who, after);
      expect(refusal).toContain(`You are not an approver for ${h.namespace} on dev`);
      expect(await h.snapshot()).toEqual(snapshot);
      expect(await bindingExpiry(h, id)).toBe(new Date(before).toISOString());
    }

    after = h.slack.calls.length;
    await clickOn(h, ANA, 'approve_extension', message);
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('extended your access'),
      { after, timeoutMs: 30_000 },
    );
    expect(blocksText(dm.args.blocks)).toContain('<@U0ANA> extended your access by 30m');
    const extended = await h.store.get(id);
    expect(extended?.expiresAt).toBe(before + 1_800_000);
    expect(extended?.extensionRequest).toBeUndefined();
    expect(extended?.extensions).toEqual([expect.objectContaining({ by: ANA, seconds: 1800, auto: false })]);
    expect(await bindingExpiry(h, id)).toBe(new Date(before + 1_800_000).toISOString());
    const updated = h.slack.message(message.channel, message.ts);
    expect(blocksText(updated?.blocks)).toContain('30m (+30m extended)');
    expect(blocksText(updated?.blocks)).not.toContain('Approve extension');
    const extendedEntry = (await h.audit.read({ grantId: id })).find((e) => e.action === 'extended');
    expect(extendedEntry?.actor).toBe(ANA);
  });
});

describe('auto-approve', () => {
  it('a request a rule covers is granted without a click; the message and the audit stream name the rule', async () => {
    const h = await pool.use({
      createNamespace: true,
      worker: true,
      namespaceExtra: 'autoApprove:\n  - { levels: [view], maxDuration: 1h }',
    });
    const rule = `auto:${h.namespace}#0`;
    // Beyond the rule's maximum, the same namespace needs an approver. (Asked first: once the rule's
    // grant is active, asking for the same level again is answered with `extend`, issue #19 §9.)
    const waiting = await requestedId(
      h,
      ALICE,
      `request ${h.namespace} as view for 2h because INC-23`,
      'Requested',
    );
    expect((await h.store.get(waiting))?.status).toBe('pending');
    const id = await requestedId(
      h,
      ALICE,
      `request ${h.namespace} as view for 30m because INC-22`,
      'approved by policy',
    );
    const message = await h.approvalMessage(id);
    await untilActive(h, message);
    const text = blocksText(h.slack.message(message.channel, message.ts)?.blocks);
    expect(text).toContain(`approved by the auto-approve rule \`${rule}\``);
    expect(text).not.toContain('Approve');
    // Nobody clicked anything.
    expect(h.slack.calls.filter((c) => c.method === 'views.open')).toEqual([]);
    const grant = await h.store.get(id);
    expect(grant?.status).toBe('active');
    expect(grant?.approvals).toEqual([expect.objectContaining({ slackUserId: rule, autoRule: rule })]);
    const audit = await h.audit.read({ grantId: id });
    expect(audit.map((e) => [e.action, e.actor])).toEqual(
      expect.arrayContaining([
        ['requested', ALICE],
        ['approved', rule],
        ['activated', expect.any(String)],
      ]),
    );
    expect(await bindingExpiry(h, id)).toBe(new Date(grant?.expiresAt as number).toISOString());
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === `CAUDIT${h.channel.slice(1)}` && blocksText(c.args.blocks).includes(rule),
    );
  });
});
