// A grant stuck in "approved — setting up access…" (issue #19 §8): with no worker running, nothing
// activates it, and past settings.setupDeadline its requester and approvers are told (by the bot,
// which consumes the Slack outbox too), and the audit trail records it. A grant set up in time is not.
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.js';
import { blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  clickOn,
  harnessPool,
  requestedId,
  untilActive,
  untilSlackDelivered,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('setting up access takes longer than the deadline', () => {
  it('without a worker: the message, the thread, the requester and the audit trail say so', async () => {
    const h = await pool.use({ setupDeadline: '3s' });
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-51`);
    const message = await h.approvalMessage(id);
    const after = h.slack.calls.length;
    await clickOn(h, ANA, 'approve', message);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('setting up access…'),
      { after },
    );
    // Past the deadline the message says what is going on and what to do.
    const overdue = await h.slack.waitFor(
      'chat.update',
      (c) =>
        c.args.ts === message.ts &&
        blocksText(c.args.blocks).includes('setting up access is taking longer than expected'),
      { after, timeoutMs: 30_000 },
    );
    expect(blocksText(overdue.args.blocks)).toContain('eks-access worker is running');
    const note = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.thread_ts === message.ts && String(c.args.text).includes('taking longer than expected'),
      { after },
    );
    expect(String(note.args.text)).toContain(`<@${ALICE}>`);
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === `D${ALICE.slice(1)}` && String(c.args.text).includes('taking longer'),
      { after },
    );
    expect(blocksText(dm.args.blocks)).toContain('You get the DM with the commands as soon as it works');
    const audit = (await h.audit.read({ grantId: id })).filter((e) => e.action === 'setup-overdue');
    expect(audit).toHaveLength(1);
    expect((await h.store.get(id))?.status).toBe('approved');
  });

  it('with a worker: access set up in time is never reported', async () => {
    const h = await pool.use({ createNamespace: true, worker: true, setupDeadline: '3s' });
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-52`);
    const message = await h.approvalMessage(id);
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    // The delayed check falls due after 3 s and finds the grant active: it says nothing.
    await pollUntil(
      'the setup check to run',
      () => h.outbox.checksPending(),
      (n) => n === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 100,
      },
    );
    await untilSlackDelivered(h);
    expect((await h.audit.read({ grantId: id })).some((e) => e.action === 'setup-overdue')).toBe(false);
    expect(h.slack.calls.some((c) => JSON.stringify(c.args).includes('taking longer than expected'))).toBe(
      false,
    );
  });
});
