// Scheduled windows through the real Bolt App, the fake Slack, real Redis and the engine's worker
// (issue #14 §1): a window nobody approved lapses at its start and a late click is refused; a start
// that is not a time is refused and nothing is stored. The approved window's whole life, through the
// requester's own aws and kubectl, is in login.test.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.js';
import { blocksText } from '../support/slack/index.js';
import { ALICE, ANA, harnessPool, refusalTo, requestedId } from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('a scheduled window', () => {
  it('nobody approved by its start: it lapses then, the requester is told, a late Approve changes nothing', async () => {
    const h = await pool.use({ worker: true, createNamespace: true });
    const id = await requestedId(h, ALICE, `request ${h.namespace} as view from +4s for 30m because INC-14`);
    const requested = await h.store.get(id);
    expect(requested?.startsAt).toBeDefined();
    // It lapses at the start, not after the pending timeout (1h here).
    expect(requested?.pendingUntil).toBe(requested?.startsAt);
    const message = await h.approvalMessage(id);
    // ANA opens the message now and clicks Approve after the start, before her client shows the update.
    const staleClick = h.slack.blockActions({
      user_id: ANA,
      action_id: 'approve',
      channel: message.channel,
      message_ts: message.ts,
    });
    // The message as it was posted: by now (on a slow machine) the start may have passed and the
    // message may already say that the request lapsed.
    const posted = h.slack.callsTo('chat.postMessage').find((c) => c.response['ts'] === message.ts);
    expect(blocksText(posted?.args.blocks)).toMatch(
      // Slack dates: each reader sees their own time zone; UTC is the fallback text.
      /\*How long\*\nfrom <!date\^\d+\^[^|]+\|\d{4}-\d\d-\d\d \d\d:\d\d UTC> to <!date\^\d+\^[^|]+\|\d{4}-\d\d-\d\d \d\d:\d\d UTC> \(30m\)/,
    );

    const lapsed = await pollUntil(
      `request ${id} to lapse at its start`,
      () => h.store.get(id),
      (g) => g?.status === 'cancelled',
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(lapsed?.endedBy).toBe('system');
    expect(lapsed?.endedAt ?? 0).toBeGreaterThanOrEqual(requested?.startsAt ?? Number.POSITIVE_INFINITY);
    const snapshot = await h.snapshot();
    const after = h.slack.calls.length;
    await h.interact(staleClick);
    expect(await refusalTo(h, ANA, after, 'lapsed')).toContain(`Request ${id}`);
    expect(await h.snapshot()).toEqual(snapshot);
    expect((await h.audit.read({ grantId: id })).map((e) => e.action)).toEqual(['requested', 'lapsed']);
  });

  it('a start that is not a time, or too far ahead, is refused with examples and nothing is stored', async () => {
    const h = await pool.use();
    const before = await h.snapshot();
    for (const [text, words] of [
      [`request ${h.namespace} as view from teatime for 1h because x`, 'from 22:00'],
      [`request ${h.namespace} as view from +30d for 1h because x`, 'is more than 7d ahead'],
    ] as const) {
      const after = h.slack.calls.length;
      await h.command(ALICE, text);
      expect(await refusalTo(h, ALICE, after, words)).toContain(words);
    }
    expect(await h.snapshot()).toEqual(before);
  });
});
