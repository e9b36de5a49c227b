// Throttling like AWS (issue #11 §4): a burst of approvals on one aws-auth cluster while IAM accepts only a
// realistic rate of writes. The fault proxy (test/platform/fault-proxy.ts) sits between the engine and
// moto and answers IAM's own `Throttling` error (HTTP 400, query protocol) beyond a token bucket over IAM's
// mutating actions. Every grant must end active, none failed; the figure is the burst's time against the
// time the rate limit alone imposes (its writes beyond the bucket's burst, divided by the rate).
//
// The rate: AWS publishes no IAM request quotas. IAM throttles with per-API token buckets per account
// ("How to monitor and query IAM resources at scale – Part 2", AWS Security Blog) and the limits cannot be
// raised; mutating calls are commonly seen throttled at around 10 per second per account, so that is the
// default here (`--iam-writes-per-second` changes it).
import { endGrant } from '../src/shared/end-grant.js';
import { engineHarness, type Harness } from '../test/int/engine-harness.js';
import { usePlatform } from '../test/platform/context.js';
import {
  type FaultProxy,
  IAM_WRITES,
  type ProxyStats,
  startAwsFaultProxy,
} from '../test/platform/fault-proxy.js';
import type { PlatformInfo } from '../test/platform/info.js';
import { ms } from './stats.js';

export interface PhaseFigures {
  /** Wall time from the first approval (or revocation) to the last grant there. */
  tookMs: number;
  /** IAM writes that reached IAM, and answered with Throttling, in this phase. */
  writes: number;
  throttled: number;
  /** The time the rate limit alone imposes on `writes`. */
  floorMs: number;
  /** Grants that did not get there (failed, or still on the way at the deadline). */
  missed: number;
}

export interface ThrottleResult {
  grants: number;
  /** undefined: no limit (the engine's own speed through the same proxy, the baseline). */
  writesPerSecond: number | undefined;
  activation: PhaseFigures;
  revocation: PhaseFigures;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** Counts per phase from the proxy's running totals. */
function phaseCounter(proxy: FaultProxy) {
  let before: ProxyStats = proxy.stats();
  return () => {
    const now = proxy.stats();
    const writes = IAM_WRITES.reduce((n, a) => n + (now.forwarded[a] ?? 0) - (before.forwarded[a] ?? 0), 0);
    const throttled = sum(now.throttled) - sum(before.throttled);
    before = now;
    return { writes, throttled };
  };
}

async function waitAll(
  h: Harness,
  ids: readonly string[],
  done: ReadonlySet<string>,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = await Promise.all(ids.map(async (id) => (await h.runtime.store.get(id))?.status));
    const missed = statuses.filter((s) => !s || !done.has(s)).length;
    const settled = statuses.every((s) => s && (done.has(s) || s === 'failed'));
    if (settled || Date.now() > deadline) return missed;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** One burst per rate, one after another (the same number of grants each). */
export async function throttledBursts(
  info: PlatformInfo,
  grants: number,
  rates: readonly (number | undefined)[],
): Promise<ThrottleResult[]> {
  const results: ThrottleResult[] = [];
  for (const writesPerSecond of rates) results.push(await throttledBurst(info, { grants, writesPerSecond }));
  return results;
}

export async function throttledBurst(
  info: PlatformInfo,
  { grants, writesPerSecond }: { grants: number; writesPerSecond: number | undefined },
): Promise<ThrottleResult> {
  usePlatform(info);
  const proxy = await startAwsFaultProxy('iam', info.aws.iamEndpoint);
  const burst = writesPerSecond ?? 0;
  if (writesPerSecond) proxy.limit({ perSecond: writesPerSecond, burst, actions: IAM_WRITES });
  const h = await engineHarness('aws-auth', { awsEndpoints: { iam: proxy.url } });
  try {
    // People are created straight in moto, not through the limit: they are not eks-access's writes.
    const people = await Promise.all(Array.from({ length: grants }, () => h.person()));
    // No reconciler during the burst: what is measured is the activation and revocation jobs.
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const floor = (writes: number) =>
      writesPerSecond ? (Math.max(0, writes - burst) / writesPerSecond) * 1000 : 0;
    const count = phaseCounter(proxy);
    const deadline = 20 * 60_000;

    let started = performance.now();
    const ids = (await Promise.all(people.map((p) => h.approve(p, { durationSeconds: 3600 })))).map(
      (g) => g.id,
    );
    const missed = await waitAll(h, ids, new Set(['active']), deadline);
    const activationMs = performance.now() - started;
    const a = count();

    started = performance.now();
    await Promise.all(ids.map((id) => endGrant(h.deps, id, 'revoked', 'U0APPROVER')));
    const revocationMissed = await waitAll(h, ids, new Set(['revoked']), deadline);
    const revocationMs = performance.now() - started;
    const r = count();
    return {
      grants,
      writesPerSecond,
      activation: { tookMs: activationMs, ...a, floorMs: floor(a.writes), missed },
      revocation: { tookMs: revocationMs, ...r, floorMs: floor(r.writes), missed: revocationMissed },
    };
  } finally {
    await h.close();
    await proxy.close();
  }
}

export function printThrottle(results: readonly ThrottleResult[]): void {
  const grants = results[0]?.grants ?? 0;
  console.log(
    `\n## Throttled IAM (${grants} grants approved at once, one aws-auth cluster; IAM's mutating actions limited by a token bucket, burst = rate)\n`,
  );
  console.log(
    '| IAM writes/s | phase | all there after | IAM writes | Throttling answers | the limit alone | ratio (goal ≤ 1.3) | not there |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of results) {
    for (const phase of ['activation', 'revocation'] as const) {
      const p = r[phase];
      const ratio = p.floorMs > 0 ? (p.tookMs / p.floorMs).toFixed(2) : 'n/a';
      console.log(
        `| ${r.writesPerSecond ?? 'no limit'} | ${phase} | ${ms(p.tookMs)} | ${p.writes} | ${p.throttled} | ${p.floorMs > 0 ? ms(p.floorMs) : '—'} | ${ratio} | ${p.missed} |`,
      );
    }
  }
}
