// Ending and extending through Slack with the engine's worker in-process: I'm done, revoke by an
// approver, an automatic extension, and a pending request that lapses.
import { afterEach, describe, expect, it } from 'vitest';
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
  requestedId,
  untilActive,
  untilExtendJobsDone,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

async function activeGrant(h: Harness) {
  const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-7`);
  const message = await h.approvalMessage(id);
  await clickOn(h, ANA, 'approve', message);
  await untilActive(h, message);
  return { id, message };
}

describe('ending and extending', () => {
  it("I'm done from the DM button gives access back and the message says so", async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const { id, message } = await activeGrant(h);
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('Use it'),
    );
    await h.interact(
      h.slack.blockActions({
        user_id: ALICE,
        action_id: 'done',
        channel: dm.args.channel,
        message_ts: String(dm.response['ts']),
      }),
    );
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Given back* by <@U0ALICE>'),
      { timeoutMs: 30_000 },
    );
    expect((await h.store.get(id))?.status).toBe('relinquished');
  });

  it('revoke: refused for a non-approver, done by an approver', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const { id, message } = await activeGrant(h);
    let after = h.slack.calls.length;
    await h.command(EVE, `revoke ${id}`);
    expect(await ephemeralTo(h.slack, EVE, after)).toContain('You are not an approver');
    expect((await h.store.get(id))?.status).toBe('active');
    after = h.slack.calls.length;
    await h.command(BEN, `revoke ${id} because INC-30 is over`);
    expect(await ephemeralTo(h.slack, BEN, after)).toContain(`Ending \`${id}\``);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Revoked* by <@U0BEN>'),
      { timeoutMs: 30_000 },
    );
    expect((await h.store.get(id))?.status).toBe('revoked');
    // The reason typed after `because` travels with it (the requester's ended DM shows it).
    expect((await h.store.get(id))?.endNote).toBe('INC-30 is over');
  });

  it('extend within the cap is automatic; beyond it is refused with what is left', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const { id } = await activeGrant(h);
    const before = (await h.store.get(id))?.expiresAt ?? 0;
    let after = h.slack.calls.length;
    await h.command(ALICE, `extend ${id} for 1h`);
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('Extended by 1h'),
      { after, timeoutMs: 30_000 },
    );
    expect((await h.store.get(id))?.expiresAt).toBe(before + 3_600_000);
    after = h.slack.calls.length;
    await h.command(ALICE, `extend ${id} for 4h`);
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('Extended by 4h'),
      { after, timeoutMs: 30_000 },
    );
    await untilExtendJobsDone(h);
    after = h.slack.calls.length;
    const snapshot = await h.snapshot();
    // 30m + 1h + 4h so far; another 4h would pass the level's 8h cap.
    await h.command(ALICE, `extend ${id} for 4h`);
    const refusal = await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('not possible'));
    expect(refusal).toContain('debug allows 8h (2h30m left)');
    expect(await h.snapshot()).toEqual(snapshot);
  });

  it('a pending request lapses after the pending timeout and the message says so', async () => {
    const h = await pool.use({ createNamespace: true, worker: true, pendingTimeout: '3s' });
    const after = h.slack.calls.length;
    await h.command(ALICE, `request ${h.namespace} because INC-8`);
    const id = /`(ea-[a-z2-9]{8})`/.exec(
      await ephemeralTo(h.slack, ALICE, after, (t) => t.includes('Requested')),
    )?.[1] as string;
    const message = await h.approvalMessage(id);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Lapsed*'),
      { timeoutMs: 30_000 },
    );
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel.startsWith('D') && blocksText(c.args.blocks).includes('Lapsed'),
    );
    expect((await h.store.get(id))?.status).toBe('cancelled');
  });
});
