// The chaos scenarios (issue #11 §2): each puts one fault on the real platform around a grant's life and
// returns the verdict of chaos/measure.ts. The engine runs in-process as the int tests run it (the
// harness's worker: real BullMQ workers, reconciler, keeper); a "SIGKILL" is a worker whose job hangs at
// the step and whose process-level resources are dropped at once (closed with force: no lock renewal,
// no graceful drain), so the job is recovered exactly as after a real kill — by BullMQ's stalled check.
//
// Used by test/int/chaos.int.test.ts (the reduced CI set, asserting the goal) and `npm run chaos` (all of
// them, the table in docs/reliability.md).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateAccessEntryCommand, DescribeAccessEntryCommand } from '@aws-sdk/client-eks';
import { Redis } from 'ioredis';
import type { Grant } from '../src/domain/grant.js';
import { activateGrant } from '../src/services/activate.js';
import type { EngineStep } from '../src/services/engine.js';
import { reconcile } from '../src/services/reconcile.js';
import { revokeGrant } from '../src/services/revoke.js';
import { engineHarness, type Harness, type Mode, workerDyingAfter } from '../test/int/engine-harness.js';
import { platform, uniqueName } from '../test/platform/context.js';
import {
  type FaultProxy,
  IAM_WRITES,
  startAwsFaultProxy,
  startTcpFaultProxy,
  type TcpFaultProxy,
} from '../test/platform/fault-proxy.js';
import { type PrivateRedis, startPrivateRedis } from '../test/support/private-redis.js';
import { GOAL_MS, type Outcome, PERIOD_MS, traces, until, verdict } from './measure.js';

/** Lock and stalled-check interval of the workers a "killed" job is recovered by (production: 30 s each). */
export const LOCK_MS = 2_000;
/** How long an outage lasts; it starts 1 s before the (last) expiry. */
const OUTAGE_MS = 12_000;

export interface Scenario {
  id: string;
  /** What the fault is, for the table. */
  fault: string;
  /** Part of the reduced set CI runs. */
  quick: boolean;
  run(): Promise<Outcome>;
}

/** Resources one scenario starts; all closed when it ends, whatever happened. */
class Rig {
  harness: Harness | undefined;
  private readonly closers: (() => Promise<void>)[] = [];
  async iamProxy(): Promise<FaultProxy> {
    const proxy = await startAwsFaultProxy('iam', platform().aws.iamEndpoint);
    this.closers.push(() => proxy.close());
    return proxy;
  }
  async eksProxy(): Promise<FaultProxy> {
    const proxy = await startAwsFaultProxy('eks', platform().aws.eksEndpoint);
    this.closers.push(() => proxy.close());
    return proxy;
  }
  async redis(persist: boolean): Promise<PrivateRedis> {
    const redis = await startPrivateRedis('chaos', { persist });
    this.closers.push(() => redis.stop());
    return redis;
  }
  /** A TCP proxy in front of kube-apiserver and a kubeconfig that goes through it. */
  async kubeProxy(): Promise<{ proxy: TcpFaultProxy; kubeconfig: string }> {
    const { kube, runDir } = platform();
    const server = new URL(kube.server);
    const proxy = await startTcpFaultProxy({ host: server.hostname, port: Number(server.port) });
    this.closers.push(() => proxy.close());
    const original = await readFile(kube.adminKubeconfig, 'utf8');
    const kubeconfig = join(runDir, `${uniqueName('chaos-kube')}.kubeconfig`);
    await writeFile(kubeconfig, original.replaceAll(server.host, `${server.hostname}:${proxy.port}`));
    return { proxy, kubeconfig };
  }
  async engine(mode: Mode, options: Parameters<typeof engineHarness>[1] = {}): Promise<Harness> {
    this.harness = await engineHarness(mode, options);
    return this.harness;
  }
  /** An engine with one worker running, reconciling every PERIOD_MS. */
  async running(mode: Mode, options: Parameters<typeof engineHarness>[1] = {}): Promise<Harness> {
    const h = await this.engine(mode, options);
    await h.startWorker({ reconcileEveryMs: PERIOD_MS });
    return h;
  }
  async close(): Promise<void> {
    await this.harness?.close();
    for (const close of this.closers.reverse()) await close().catch(() => undefined);
  }
}

async function withRig(work: (rig: Rig) => Promise<Outcome>): Promise<Outcome> {
  const rig = new Rig();
  try {
    return await work(rig);
  } finally {
    await rig.close();
  }
}

/** `n` people with one grant each, active; `durationSeconds` from activation. */
async function activeGrants(h: Harness, n: number, durationSeconds: number): Promise<Grant[]> {
  return Promise.all(
    Array.from({ length: n }, async () =>
      h.waitFor((await h.approve(await h.person(), { durationSeconds })).id, ['active'], 60_000),
    ),
  );
}

const lastExpiry = (grants: readonly Grant[]) => Math.max(...grants.map((g) => g.expiresAt ?? 0));

/** Fault on 1 s before the last expiry, off OUTAGE_MS later; returns when it was cleared. */
async function outageAcrossExpiry(
  grants: readonly Grant[],
  on: () => Promise<void>,
  off: () => Promise<void>,
) {
  await until(lastExpiry(grants) - 1_000);
  await on();
  await until(lastExpiry(grants) - 1_000 + OUTAGE_MS);
  await off();
  return Date.now();
}

const flushall: Scenario = {
  id: 'redis-flushall',
  fault: 'Redis FLUSHALL while the worker keeps running (3 active grants)',
  quick: true,
  run: () =>
    withRig(async (rig) => {
      const redis = await rig.redis(false);
      const h = await rig.running('aws-auth', { redisUrl: redis.url });
      const grants = await activeGrants(h, 3, 8);
      const admin = new Redis(redis.url);
      try {
        await admin.flushall();
      } finally {
        admin.disconnect();
      }
      const flushedAt = Date.now();
      return verdict(h, grants, {
        recordsLost: true,
        notes: [
          `flushed ${Math.round((lastExpiry(grants) - flushedAt) / 1000)} s before expiry; the "ended" DMs cannot be sent (their records are gone)`,
        ],
      });
    }),
};

/**
 * `lockMs`: the lock and stalled-check interval of the workers, or `production`: BullMQ's defaults
 * (30 s each) as production runs them — the time a real kill costs there.
 */
function killDuringActivation(
  step: EngineStep,
  quick: boolean,
  lockMs: number | 'production' = LOCK_MS,
): Scenario {
  const production = lockMs === 'production';
  const lock = production ? {} : { lockDuration: lockMs };
  return {
    id: `kill-activation-${step}${production ? '-production-lock' : ''}`,
    fault: `worker killed during activation, after step \`${step}\`${production ? " (BullMQ's default 30 s lock, as in production)" : ''}`,
    quick,
    run: () =>
      withRig(async (rig) => {
        const h = await rig.engine('aws-auth');
        const doomed = await workerDyingAfter(h, step, { ...lock, reconcileEveryMs: PERIOD_MS });
        const approved = await h.approve(await h.person(), { durationSeconds: 6 });
        const killedAt = await doomed.die();
        await h.startWorker({ ...lock, reconcileEveryMs: PERIOD_MS });
        const active = await h.waitFor(approved.id, ['active'], 150_000);
        const finishedAfter = (active.activatedAt ?? 0) - killedAt;
        return verdict(h, [active], {
          notes: [
            `a fresh worker finished the activation ${(finishedAfter / 1000).toFixed(1)} s after the kill`,
          ],
        });
      }),
  };
}

function killDuringRevocation(step: EngineStep, quick: boolean): Scenario {
  return {
    id: `kill-revocation-${step}`,
    fault: `worker killed during revocation at expiry, after step \`${step}\``,
    quick,
    run: () =>
      withRig(async (rig) => {
        const h = await rig.engine('aws-auth');
        const first = await h.startWorker({ lockDuration: LOCK_MS, reconcileEveryMs: PERIOD_MS });
        const [grant] = await activeGrants(h, 1, 4);
        await first.close();
        const doomed = await workerDyingAfter(h, step, {
          lockDuration: LOCK_MS,
          reconcileEveryMs: PERIOD_MS,
        });
        const killedAt = await doomed.die();
        await h.startWorker({ lockDuration: LOCK_MS, reconcileEveryMs: PERIOD_MS });
        const outcome = await verdict(h, [grant as Grant], { clearedAt: killedAt });
        outcome.notes.push(
          `killed ${((killedAt - (grant?.expiresAt ?? 0)) / 1000).toFixed(1)} s after expiry`,
        );
        return outcome;
      }),
  };
}

const redisDown: Scenario = {
  id: 'redis-down-expiry',
  fault: `Redis down ${OUTAGE_MS / 1000} s across expiry, back with its data (AOF)`,
  // In CI too: it guards the keeper's sweep on reconnect (without it, 7.9 s after Redis was back).
  quick: true,
  run: () =>
    withRig(async (rig) => {
      const redis = await rig.redis(true);
      const h = await rig.running('aws-auth', { redisUrl: redis.url });
      const grants = await activeGrants(h, 2, 6);
      const clearedAt = await outageAcrossExpiry(
        grants,
        () => redis.stop(),
        () => redis.start(),
      );
      return verdict(h, grants, { clearedAt });
    }),
};

const redisRestart: Scenario = {
  id: 'redis-restart-aof',
  fault: 'Redis restarted from its append-only file while grants are active',
  quick: false,
  run: () =>
    withRig(async (rig) => {
      const redis = await rig.redis(true);
      const h = await rig.running('aws-auth', { redisUrl: redis.url });
      const grants = await activeGrants(h, 3, 10);
      await redis.stop();
      await redis.start();
      const kept = (await Promise.all(grants.map((g) => h.runtime.store.get(g.id)))).filter(Boolean).length;
      const outcome = await verdict(h, grants, {});
      outcome.notes.push(`${kept} of ${grants.length} grant records back after the restart`);
      if (kept < grants.length) outcome.problems.push('grant records lost in the restart');
      return outcome;
    }),
};

const kubeDown: Scenario = {
  id: 'kube-apiserver-down-expiry',
  fault: `kube-apiserver unreachable ${OUTAGE_MS / 1000} s across expiry (connections reset)`,
  quick: false,
  run: () =>
    withRig(async (rig) => {
      const { proxy, kubeconfig } = await rig.kubeProxy();
      const h = await rig.running('aws-auth', { kubeconfig });
      const grants = await activeGrants(h, 2, 6);
      const clearedAt = await outageAcrossExpiry(
        grants,
        async () => proxy.set({ kind: 'down' }),
        async () => proxy.set({ kind: 'pass' }),
      );
      return verdict(h, grants, { clearedAt });
    }),
};

function awsOutage(service: 'iam' | 'eks', kind: 'down' | 'freeze', quick: boolean): Scenario {
  const what = service === 'iam' ? 'IAM (moto)' : 'EKS (ministack)';
  return {
    id: `${service}-${kind}-expiry`,
    fault: `${what} ${kind === 'down' ? 'down (connections reset)' : 'frozen (requests unanswered)'} ${OUTAGE_MS / 1000} s across expiry`,
    quick,
    run: () =>
      withRig(async (rig) => {
        const proxy = service === 'iam' ? await rig.iamProxy() : await rig.eksProxy();
        const h = await rig.engine(service === 'iam' ? 'aws-auth' : 'access-entries', {
          awsEndpoints: { [service]: proxy.url },
        });
        // A foreign access entry on the cluster must outlive every sweep.
        const foreignArn = `arn:aws:iam::${platform().aws.accountId}:role/platform-admin`;
        if (service === 'eks') {
          await h.eks.send(
            new CreateAccessEntryCommand({ clusterName: h.cluster, principalArn: foreignArn }),
          );
        }
        await h.startWorker({ reconcileEveryMs: PERIOD_MS });
        const grants = await activeGrants(h, 2, 6);
        let bindingsGoneAt: number | undefined;
        const watchBindings = (async () => {
          while (bindingsGoneAt === undefined && Date.now() < lastExpiry(grants) + OUTAGE_MS + GOAL_MS) {
            const left = await traces(h, grants);
            if (!left.some((t) => t.startsWith('RoleBinding'))) bindingsGoneAt = Date.now();
            else await new Promise((resolve) => setTimeout(resolve, 200));
          }
        })();
        const clearedAt = await outageAcrossExpiry(
          grants,
          async () => proxy.set({ kind }),
          async () => proxy.set({ kind: 'pass' }),
        );
        await watchBindings;
        return verdict(h, grants, {
          clearedAt,
          foreignIntact: async () =>
            service !== 'eks' ||
            (await h.eks
              .send(new DescribeAccessEntryCommand({ clusterName: h.cluster, principalArn: foreignArn }))
              .then(() => true)),
          notes: [
            bindingsGoneAt === undefined
              ? 'RoleBindings not gone during the outage'
              : `RoleBindings gone ${((bindingsGoneAt - lastExpiry(grants)) / 1000).toFixed(1)} s after expiry, during the outage`,
          ],
        });
      }),
  };
}

const throttled: Scenario = {
  id: 'iam-throttled-5xx',
  fault: 'IAM writes limited to 2/s (Throttling beyond) and every 4th IAM request a 503, 10 grants at once',
  quick: false,
  run: () =>
    withRig(async (rig) => {
      const proxy = await rig.iamProxy();
      proxy.limit({ perSecond: 2, burst: 2, actions: IAM_WRITES });
      proxy.set({ kind: 'error', every: 4 });
      const h = await rig.running('aws-auth', { awsEndpoints: { iam: proxy.url } });
      const started = Date.now();
      const approved = await Promise.all(
        Array.from({ length: 10 }, async () => h.approve(await h.person(), { durationSeconds: 20 })),
      );
      // Active, or already past it: under throttling the last writes eat into the approved time (the
      // expiry is fixed before the trust policy that carries it is written), so a short grant can end
      // before a poll sees it active. "activated" DMs say whether each got there.
      const grants = await Promise.all(
        approved.map((g) => h.waitFor(g.id, ['active', 'revoking', 'expired', 'failed'], 120_000)),
      );
      const allThere = Date.now() - started;
      const failed = grants.filter((g) => g.status === 'failed').length;
      const outcome = await verdict(h, grants, {});
      const s = proxy.stats();
      const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
      // Usable from the moment the grant was stored active (its "activated" audit entry) until expiry.
      const usable = await Promise.all(
        grants.map(async (g) => {
          const entries = await h.runtime.audit.read({ grantId: g.id, limit: 100 });
          const at = entries.find((e) => e.action === 'activated')?.at ?? Number.POSITIVE_INFINITY;
          return Math.max(0, (g.expiresAt ?? 0) - at);
        }),
      );
      outcome.notes.push(
        `all activated within ${(allThere / 1000).toFixed(1)} s; IAM answered ${sum(s.throttled)} Throttling and ${sum(s.failed)} 503; ` +
          `${failed} failed; shortest usable time ${(Math.min(...usable) / 1000).toFixed(0)} of 20 s`,
      );
      if (failed > 0) outcome.problems.push(`${failed} grant(s) failed under throttling`);
      return outcome;
    }),
};

const duplicateJobs: Scenario = {
  id: 'duplicate-jobs',
  fault: 'every activation and revocation delivered three times at once (+ two reconcilers at expiry)',
  quick: true,
  run: () =>
    withRig(async (rig) => {
      const h = await rig.running('aws-auth');
      const approved = await Promise.all(
        Array.from({ length: 3 }, async () => h.approve(await h.person(), { durationSeconds: 5 })),
      );
      // The queued job plus two more deliveries of the same activation, at once.
      await Promise.allSettled(
        approved.flatMap((g) => [activateGrant(h.deps, g.id), activateGrant(h.deps, g.id)]),
      );
      const grants = await Promise.all(approved.map((g) => h.waitFor(g.id, ['active'])));
      await until(lastExpiry(grants));
      await Promise.allSettled([
        ...grants.flatMap((g) => [revokeGrant(h.deps, g.id), revokeGrant(h.deps, g.id)]),
        reconcile(h.deps),
        reconcile(h.deps),
      ]);
      const outcome = await verdict(h, grants, {});
      const TERMINAL = new Set(['expired', 'revoked', 'relinquished']);
      let audits = 0;
      for (const g of grants) {
        const entries = await h.runtime.audit.read({ grantId: g.id, limit: 100 });
        audits += entries.filter((e) => TERMINAL.has(e.action)).length;
      }
      outcome.notes.push(`${audits} terminal audit entries for ${grants.length} grants`);
      if (audits !== grants.length) outcome.problems.push('terminal audit entries duplicated or missing');
      return outcome;
    }),
};

const clockSkew: Scenario = {
  id: 'clock-skew-30s',
  fault: "bot's clock 30 s ahead of the worker's for one grant, 30 s behind for another",
  quick: false,
  run: () =>
    withRig(async (rig) => {
      const h = await rig.running('aws-auth');
      const approved = await Promise.all(
        [30_000, -30_000].map(async (skew) =>
          h.approve(await h.person(), { durationSeconds: 5, now: h.runtime.clock.now() + skew }),
        ),
      );
      const grants = await Promise.all(approved.map((g) => h.waitFor(g.id, ['active', 'failed'])));
      const failed = grants.filter((g) => g.status === 'failed');
      const outcome = await verdict(
        h,
        grants.filter((g) => g.status === 'active'),
        {},
      );
      if (failed.length > 0) {
        outcome.problems.push(`${failed.length} skewed approval(s) failed to activate`);
      }
      outcome.notes.push('expiry is computed and enforced on the worker clock alone');
      return outcome;
    }),
};

export const SCENARIOS: readonly Scenario[] = [
  flushall,
  redisDown,
  redisRestart,
  killDuringActivation('role-binding', false),
  killDuringActivation('identity', true),
  killDuringActivation('verified', false),
  killDuringActivation('identity', false, 'production'),
  killDuringRevocation('revoke-binding', false),
  kubeDown,
  awsOutage('iam', 'down', true),
  awsOutage('iam', 'freeze', false),
  awsOutage('eks', 'down', false),
  throttled,
  duplicateJobs,
  clockSkew,
];
