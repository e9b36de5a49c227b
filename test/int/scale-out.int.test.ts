// Scale-out: two bots (separate Bolt Apps, HTTP mode) and two workers against one Redis and one
// kube-apiserver. Requests land on either bot; every grant gets an Approve click on *both* bots at the
// same moment. Each grant must be activated exactly once (one RoleBinding, one `activated` audit
// event), with exactly one approval-message update per transition and one DM; and the reconciler,
// scheduled by both workers, must run once per period, not once per worker.
import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunningWorker } from '../../src/bin/worker.js';
import { blocksText, type SlackCall } from '../support/slack/index.js';
import { APPROVERS, type Stack, startStack } from './ops-stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const REQUESTERS = Array.from({ length: 12 }, (_, i) => `U0REQ${String(i).padStart(2, '0')}`);
const [ANA, BEN] = APPROVERS;

const mentions = (call: SlackCall, text: string) => JSON.stringify(call.args).includes(text);

async function jobsCompleted(workers: RunningWorker[], queue: string): Promise<number> {
  let total = 0;
  for (const w of workers) {
    const metric = await w.metrics.jobs.get();
    total += metric.values
      .filter((v) => v.labels.queue === queue && v.labels.result === 'completed')
      .reduce((sum, v) => sum + v.value, 0);
  }
  return total;
}

describe('two bots and two workers on one Redis', () => {
  it('12 grants approved concurrently on both bots: each activated once, one message per transition', async () => {
    const s = await startStack({ requesters: REQUESTERS });
    stack = s;
    const bots = [await s.startBot(), await s.startBot()] as const;
    const workers = [await s.startWorker(), await s.startWorker()];
    const bot = (i: number) => bots[i % 2] as (typeof bots)[number];

    // Requests to either bot, all at once.
    const requested = await Promise.all(
      REQUESTERS.map((user, i) =>
        bot(i).command(user, `request ${s.namespace} for 1h because scale-out ${i}`),
      ),
    );
    expect(requested).toEqual(REQUESTERS.map(() => 200));
    const pending = await s.until(
      'every request pending with its approval message',
      () => s.grants(),
      (grants) => grants.length === REQUESTERS.length && grants.every((g) => g.approvalMessage),
    );
    expect(new Set(pending.map((g) => g.requester.slackUserId))).toEqual(new Set(REQUESTERS));

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
      (grants) => grants.length === REQUESTERS.length && grants.every((g) => g.status === 'active'),
      60_000,
    );
    await s.until(
      'every activation job completed',
      () => jobsCompleted(workers, 'activate'),
      (n) => n >= REQUESTERS.length,
    );
    const refusals = () =>
      s.slack.calls.filter(
        (c) =>
          (c.method === 'response_url' || c.method === 'chat.postEphemeral') &&
          mentions(c, 'already approved'),
      ).length;
    await s.until(
      'one refusal per losing click',
      async () => refusals(),
      (n) => n >= REQUESTERS.length,
    );

    // Slack deliveries go through the outbox queue after each transition: activations that finish
    // together (they no longer queue behind one another) are announced a moment later.
    await s.until(
      'every activation announced: audit line, DM and message update per grant',
      async () => ({
        audit: s.slack
          .callsTo('chat.postMessage')
          .filter(
            (c) => c.args.channel === s.auditChannel && String(c.args.text).split(' ')[1] === 'activated',
          ).length,
        dms: s.slack.callsTo('chat.postMessage').filter((c) => c.args.channel.startsWith('D')).length,
        updates: s.slack.callsTo('chat.update').length,
      }),
      (n) => n.audit >= REQUESTERS.length && n.dms >= REQUESTERS.length && n.updates >= 2 * REQUESTERS.length,
    );
    const grants = await s.grants();
    const bindings = await s.bindings();
    expect(bindings.size).toBe(REQUESTERS.length);
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
    expect(refusals()).toBe(REQUESTERS.length);
    expect(await jobsCompleted(workers, 'activate')).toBe(REQUESTERS.length);
  }, 120_000);

  it('the reconciler runs once per period across both workers', async () => {
    const s = await startStack({ requesters: ['U0REQ00'], reconcileInterval: '1s' });
    stack = s;
    const runs: { id: string; slot: number; at: number; worker: number }[] = [];
    const workers = [await s.startWorker(), await s.startWorker()];
    workers.forEach((w, worker) => {
      const reconciler = w.workers.workers.find((x) => x.name === 'reconcile');
      reconciler?.on('completed', (job: Job) => {
        runs.push({
          id: String(job.id),
          slot: Number(String(job.id).split(':').at(-1)),
          at: job.processedOn ?? 0,
          worker,
        });
      });
    });
    await s.until(
      'six reconciler runs',
      async () => runs.length,
      (n) => n >= 6,
      20_000,
    );
    const observed = [...runs].sort((a, b) => a.at - b.at);
    const first = observed[0] as (typeof observed)[number];
    const last = observed.at(-1) as (typeof observed)[number];
    // One job per scheduled slot, slots one period apart, nothing run twice.
    expect(new Set(observed.map((r) => r.id)).size).toBe(observed.length);
    const slots = observed.map((r) => r.slot).sort((a, b) => a - b);
    for (let i = 1; i < slots.length; i++)
      expect((slots[i] as number) - (slots[i - 1] as number)).toBeGreaterThanOrEqual(1000);
    // In wall time: n runs took at least n - 1 periods (two workers each running it would halve that).
    expect(last.at - first.slot).toBeGreaterThanOrEqual((observed.length - 1) * 1000);
    // Both workers upserted the same scheduler; what ran came from its one schedule.
    expect(observed.every((r) => r.id.startsWith('repeat:reconcile-every:'))).toBe(true);
  }, 60_000);
});
