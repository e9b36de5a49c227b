// Slack refusing to deliver: an approval channel the bot was never invited to must not swallow a
// request. The requester is told why and what an admin must do, the audit trail records it, and the
// request stays findable by its approvers. And Slack rate-limiting a burst: every message still
// arrives, exactly once (the outbox retries after Retry-After and never repeats a step that succeeded).
import { afterEach, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.js';
import { blocksText, type View } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  BEN,
  clickOn,
  ephemeralTo,
  harnessPool,
  requestedId,
  untilActive,
  untilSlackDelivered,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

describe('an approval channel without the bot', () => {
  it.each([
    { kind: 'public', spec: { bot: false }, error: 'not_in_channel' },
    { kind: 'private', spec: { bot: false, private: true }, error: 'channel_not_found' },
  ])(
    '($kind) the requester is told to /invite the bot, the audit trail records it',
    async ({ spec, error }) => {
      const h = await pool.use();
      h.slack.addChannel(h.channel, spec);
      const after = h.slack.calls.length;
      const id = await requestedId(h, ALICE, `request ${h.namespace} because INC-10`);

      const refused = await h.slack.waitFor('chat.postMessage', (c) => c.args.channel === h.channel, {
        after,
      });
      expect(refused.response).toEqual({ ok: false, error });
      const dm = await h.slack.waitFor(
        'chat.postMessage',
        (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes(id),
        { after },
      );
      const text = blocksText(dm.args.blocks);
      expect(text).toContain(`could not be posted to <#${h.channel}> (Slack: \`${error}\`)`);
      expect(text).toContain(`run \`/invite @eks-access\` in <#${h.channel}>`);
      expect(text).toContain('/eks-access approvals');

      const events = await h.audit.read({ grantId: id });
      expect(events.find((e) => e.action === 'approval-post-failed')).toMatchObject({
        actor: 'system',
        details: { channel: h.channel, error },
      });
      // Still pending, and its approvers find it.
      expect((await h.store.get(id))?.status).toBe('pending');
      const listed = h.slack.calls.length;
      await h.command(ANA, 'approvals');
      expect(await ephemeralTo(h.slack, ANA, listed, (t) => t.includes(id))).toContain(id);
    },
  );
});

describe('a 429 storm', () => {
  it('every notification arrives exactly once: approval update, activation DM, audit lines', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-11`);
    const message = await h.approvalMessage(id);
    await untilSlackDelivered(h);
    const after = h.slack.calls.length;
    // Slack rate-limits the workspace for a while: every posting method answers 429 a few times.
    h.slack.failNext('chat.postMessage', 'ratelimited', { times: 5, retryAfterSeconds: 1 });
    h.slack.failNext('chat.update', 'ratelimited', { times: 3, retryAfterSeconds: 1 });
    h.slack.failNext('conversations.open', 'ratelimited', { times: 2, retryAfterSeconds: 1 });
    await clickOn(h, ANA, 'approve', message);
    await h.slack.waitFor(
      'chat.update',
      (c) =>
        c.args.ts === message.ts &&
        c.response['ok'] === true &&
        blocksText(c.args.blocks).includes('Active* until'),
      { after, timeoutMs: 30_000 },
    );
    await untilSlackDelivered(h);

    const calls = h.slack.calls.slice(after);
    expect(calls.filter((c) => c.response['error'] === 'ratelimited')).toHaveLength(10);
    const delivered = h.slack
      .callsTo('chat.postMessage')
      .filter((c) => calls.includes(c) && c.response['ok'] === true);
    const dms = delivered.filter(
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('Use it'),
    );
    expect(dms).toHaveLength(1);
    // Audit lines refused for a rate limit are posted together a moment later (one block per line):
    // requested, approved, activated, each once.
    const auditLines = await pollUntil(
      'the audit lines of the grant',
      async () =>
        h.slack
          .messages(h.policy.settings.auditChannel)
          .flatMap((m) => m.blocks ?? [])
          .filter((b) => JSON.stringify(b).includes(id)),
      (lines) => lines.length >= 3,
      { timeoutMs: 30_000 },
    );
    expect(auditLines).toHaveLength(3);
    // Nothing twice: every delivered message is distinct.
    const keys = delivered.map(
      (c) => `${c.args.channel}|${c.args.text ?? ''}|${JSON.stringify(c.args.blocks ?? [])}`,
    );
    expect(new Set(keys).size).toBe(keys.length);
    expect(h.slack.messages(h.channel).filter((m) => m.ts === message.ts)).toHaveLength(1);
  });
});

describe('a 429 storm on direct messages', () => {
  it('every DM to the requester arrives exactly once: extended, then ended', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-13`);
    const message = await h.approvalMessage(id);
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    await untilSlackDelivered(h);
    const after = h.slack.calls.length;
    // Slack rate-limits the bot: opening DMs and posting answer 429 with Retry-After a few times each.
    h.slack.failNext('chat.postMessage', 'ratelimited', { times: 4, retryAfterSeconds: 1 });
    h.slack.failNext('conversations.open', 'ratelimited', { times: 3, retryAfterSeconds: 1 });
    await h.command(ALICE, `extend ${id} for 30m`);
    const dmTo = (words: string) =>
      h.slack.waitFor(
        'chat.postMessage',
        (c) =>
          c.args.channel === `D${ALICE.slice(1)}` &&
          c.response['ok'] === true &&
          String(c.args.text).includes(words),
        { after, timeoutMs: 30_000 },
      );
    await dmTo(`${id} was extended`);
    await h.command(ALICE, `done ${id}`);
    await dmTo(`${id} ended`);
    await untilSlackDelivered(h);

    const calls = h.slack.calls.slice(after);
    const refused = (method: string) =>
      calls.filter((c) => c.method === method && c.response['error'] === 'ratelimited').length;
    expect(refused('chat.postMessage')).toBe(4);
    // A DM channel, once opened, is remembered by the process: fewer conversations.open may be needed.
    expect(refused('conversations.open')).toBeLessThanOrEqual(3);
    const dms = calls.filter(
      (c) =>
        c.method === 'chat.postMessage' &&
        c.response['ok'] === true &&
        c.args.channel === `D${ALICE.slice(1)}`,
    );
    expect(dms.filter((c) => String(c.args.text).includes('was extended'))).toHaveLength(1);
    expect(dms.filter((c) => String(c.args.text).includes(`${id} ended`))).toHaveLength(1);
  });
});

describe('Deny from the ephemeral approvals list', () => {
  it('denies, with the reason reaching the requester, from a channel the bot is not in', async () => {
    const h = await pool.use();
    const id = await requestedId(h, ALICE, `request ${h.namespace} because INC-14`);
    const message = await h.approvalMessage(id);
    const elsewhere = 'C0ELSEWHERE';
    await h.slack.socket.send(
      'slash_commands',
      h.slack.slashCommand({
        command: '/eks-access',
        text: 'approvals',
        user_id: ANA,
        channel_id: elsewhere,
      }),
    );
    const list = await pollUntil(
      "ANA's approvals list",
      async () =>
        h.slack.ephemerals.find(
          (e) => e.user === ANA && e.channel === elsewhere && JSON.stringify(e.blocks).includes(id),
        ),
      (found) => found !== undefined,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const after = h.slack.calls.length;
    await h.interact(
      h.slack.blockActions({
        user_id: ANA,
        action_id: 'deny',
        channel: elsewhere,
        message_ts: String(list?.message_ts),
      }),
    );
    const form = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'deny_modal', {
      after,
    });
    await h.interact(
      h.slack.viewSubmission({
        user_id: ANA,
        view_id: String((form.response['view'] as View).id),
        values: { reason: { value: { type: 'plain_text_input', value: 'use the staging cluster' } } },
      }),
    );
    const dm = await h.slack.waitFor(
      'chat.postMessage',
      (c) =>
        c.args.channel === `D${ALICE.slice(1)}` &&
        blocksText(c.args.blocks).includes('use the staging cluster'),
      { after },
    );
    expect(blocksText(dm.args.blocks)).toContain(`*denied* by <@${ANA}>`);
    await h.slack.waitFor(
      'chat.update',
      (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes(`Denied* by <@${ANA}>`),
      { after },
    );
    expect((await h.store.get(id))?.status).toBe('denied');
    // Nothing was sent with chat.postEphemeral, which needs the bot in that channel.
    expect(h.slack.callsTo('chat.postEphemeral')).toEqual([]);
  });

  it('answers through the response_url, also in a channel the bot is not in', async () => {
    const h = await pool.use();
    const id = await requestedId(h, ALICE, `request ${h.namespace} because INC-12`);
    const message = await h.approvalMessage(id);
    // ANA lists her approvals in a channel without the bot: the list is an ephemeral only she sees.
    const elsewhere = 'C0ELSEWHERE';
    await h.slack.socket.send(
      'slash_commands',
      h.slack.slashCommand({
        command: '/eks-access',
        text: 'approvals',
        user_id: ANA,
        channel_id: elsewhere,
      }),
    );
    const list = await pollUntil(
      "ANA's approvals list",
      async () =>
        h.slack.ephemerals.find(
          (e) => e.user === ANA && e.channel === elsewhere && JSON.stringify(e.blocks).includes(id),
        ),
      (found) => found !== undefined,
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    const after = h.slack.calls.length;
    await h.interact(
      h.slack.blockActions({
        user_id: ANA,
        action_id: 'deny',
        channel: elsewhere,
        message_ts: String(list?.message_ts),
      }),
    );
    const form = await h.slack.waitFor('views.open', (c) => c.args.view.callback_id === 'deny_modal', {
      after,
    });
    // BEN approves while ANA types her reason: her denial loses, and she must hear it where she clicked.
    await clickOn(h, BEN, 'approve', message);
    // The click is acknowledged before it is handled: wait until BEN's approval is recorded, so her
    // submission really comes second.
    await pollUntil(
      "BEN's approval recorded",
      async () => (await h.store.get(id))?.status,
      (status) => status !== undefined && status !== 'pending',
      { timeoutMs: 30_000, intervalMs: 20 },
    );
    await h.interact(
      h.slack.viewSubmission({
        user_id: ANA,
        view_id: String((form.response['view'] as View).id),
        values: { reason: { value: { type: 'plain_text_input', value: 'not now' } } },
      }),
    );
    const answer = await h.slack.waitFor(
      'response_url',
      (c) => JSON.stringify(c.args).includes('already approved'),
      { after },
    );
    expect(answer.response).toEqual({ ok: true });
    expect(h.slack.callsTo('chat.postEphemeral')).toEqual([]);
    expect((await h.store.get(id))?.status).not.toBe('denied');
  });
});
