// Scale-out: two bots (separate Bolt Apps, HTTP mode) and two workers against one Redis and one
// kube-apiserver. Requests land on either bot; every grant gets an Approve click on *both* bots at the
// same moment. Each grant must be activated exactly once (one RoleBinding, one `activated` audit
// event), with exactly one approval-message update per transition and one DM; and the reconciler,
// scheduled by both workers, must run once per period, not once per worker.
import type { Job } from 'bullmq';
import { afterEach, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './ops-stack.js';
import { approveConcurrentlyOnTwoBots } from './scale-out-scenario.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const REQUESTERS = Array.from({ length: 12 }, (_, i) => `U0REQ${String(i).padStart(2, '0')}`);

describe('two bots and two workers on one Redis', () => {
  it('12 grants approved concurrently on both bots: each activated once, one message per transition', async () => {
    const s = await startStack({ requesters: REQUESTERS });
    stack = s;
    await approveConcurrentlyOnTwoBots(s, REQUESTERS);
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
