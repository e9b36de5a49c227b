// The scale-out scenario, shared by the single-Redis test (scale-out.int.test.ts) and the Redis Cluster
// one (redis-cluster.int.test.ts): two bots and two workers; requests land on either bot; every grant
// gets an Approve click on *both* bots at the same moment. Each grant must be activated exactly once
// (one RoleBinding, one `activated` audit event), with exactly one approval-message update per
// transition and one DM.
import { expect } from 'vitest';
import type { RunningWorker } from '../../src/bin/worker.js';
import { blocksText, type SlackCall } from '../support/slack/index.js';
import { APPROVERS, type Stack } from './ops-stack.js';

const [ANA, BEN] = APPROVERS;

const mentions = (call: SlackCall, text: string) => JSON.stringify(call.args).includes(text);

export async function jobsCompleted(workers: RunningWorker[], queue: string): Promise<number> {
  let total = 0;
  for (const w of workers) {
    const metric = await w.metrics.jobs.get();
    total += metric.values
      .filter((v) => v.labels.queue === queue && v.labels.result === 'completed')
      .reduce((sum, v) => sum + v.value, 0);
  }
  return total;
}

/** `requesters` each ask once, through alternating bots; both approvers click Approve on every grant at once. */
export async function approveConcurrentlyOnTwoBots(s: Stack, requesters: readonly string[]): Promise<void> {
  const bots = [await s.startBot(), await s.startBot()] as const;
  const workers = [await s.startWorker(), await s.startWorker()];
  const bot = (i: number) => bots[i % 2] as (typeof bots)[number];

  // Requests to either bot, all at once.
  const requested = await Promise.all(
    requesters.map((user, i) => bot(i).command(user, `request ${s.namespace} for 1h because scale-out ${i}`)),
  );
  expect(requested).toEqual(requesters.map(() => 200));
  const pending = await s.until(
    'every request pending with its approval message',
    () => s.grants(),
    (grants) => grants.length === requesters.length && grants.every((g) => g.approvalMessage),
  );
  expect(new Set(pending.map((g) => g.requester.slackUserId))).toEqual(new Set(requesters));

  // Two approvers click Approve on the same grant at the same moment, each through a different bot.
  const clicks = pending.flatMap((grant, i) => {
    const where = grant.approvalMessage as { channel: string; ts: string };
    const click = (user: string) =>
      s.slack.blockActions({
        user_id: user,
        action_id: 'approve',
        channel: where.channel,
        message_ts: where.ts,
      });
    return [bot(i).interact(click(ANA)), bot(i + 1).interact(click(BEN))];
  });
  expect(await Promise.all(clicks)).toEqual(clicks.map(() => 200));

  // Everything settles: all active, every activation job done, every losing click answered.
  await s.until(
    'every grant active',
    () => s.grants(),
    (grants) => grants.length === requesters.length && grants.every((g) => g.status === 'active'),
    60_000,
  );
  await s.until(
    'every activation job completed',
    () => jobsCompleted(workers, 'activate'),
    (n) => n >= requesters.length,
  );
  const refusals = () =>
    s.slack.calls.filter(
      (c) =>
        (c.method === 'response_url' || c.method === 'chat.postEphemeral') && mentions(c, 'already approved'),
    ).length;
  await s.until(
    'one refusal per losing click',
    async () => refusals(),
    (n) => n >= requesters.length,
  );

  // The DMs, audit lines and message updates go through the Slack outbox after activation: awaited.
  const posted = (channel: (c: SlackCall<'chat.postMessage'>) => boolean) =>
    s.slack.callsTo('chat.postMessage').filter(channel).length;
  await s.until(
    'per grant: a DM, an `activated` audit line and two approval-message updates',
    async () => ({
      dms: posted((c) => c.args.channel.startsWith('D')),
      activated: posted((c) => c.args.channel === s.auditChannel && mentions(c, 'activated')),
      updates: s.slack.callsTo('chat.update').length,
    }),
    (n) =>
      n.dms >= requesters.length && n.activated >= requesters.length && n.updates >= 2 * requesters.length,
  );

  const grants = await s.grants();
  const bindings = await s.bindings();
  expect(bindings.size).toBe(requesters.length);
  for (const grant of grants) {
    const where = grant.approvalMessage as { channel: string; ts: string };
    expect(grant.approvals, grant.id).toHaveLength(1);
    expect(bindings.get(grant.id), `RoleBindings of ${grant.id}`).toBe(1);
    const actions = (await s.reader.audit.read({ grantId: grant.id })).map((e) => e.action);
    expect(
      actions.filter((a) => a === 'approved'),
      `approved events of ${grant.id}`,
    ).toHaveLength(1);
    expect(
      actions.filter((a) => a === 'activated'),
      `activated events of ${grant.id}`,
    ).toHaveLength(1);

    // One approval message, updated once per transition (approved, active), the last one saying Active.
    const posts = s.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel === s.channel && !c.args.thread_ts && mentions(c, grant.id));
    expect(posts, `approval messages of ${grant.id}`).toHaveLength(1);
    const updates = s.slack.callsTo('chat.update').filter((c) => c.args.ts === where.ts);
    expect(updates, `updates of ${grant.id}'s message`).toHaveLength(2);
    expect(blocksText(s.slack.message(where.channel, where.ts)?.blocks)).toContain('Active* until');
    // One DM (access is ready), one audit-channel line per transition.
    const dms = s.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel.startsWith('D') && mentions(c, grant.id));
    expect(dms, `DMs about ${grant.id}`).toHaveLength(1);
    expect(blocksText(dms[0]?.args.blocks)).toContain('Use it');
    const auditLines = s.slack
      .callsTo('chat.postMessage')
      .filter((c) => c.args.channel === s.auditChannel && mentions(c, grant.id));
    expect(auditLines.map((c) => String(c.args.text).split(' ')[1])).toEqual([
      'requested',
      'approved',
      'activated',
    ]);
  }
  expect(refusals()).toBe(requesters.length);
  expect(await jobsCompleted(workers, 'activate')).toBe(requesters.length);
}
