// What one grant costs on the test platform, per identity-mapping mode: time from approval to `active`
// and from expiry to gone (the revoke job's SubjectAccessReview says denied), and the API calls each
// takes: Kubernetes requests per API client call, AWS requests through SDK middleware (after signing,
// so retries count). See bench-engine.ts.
import type { PlatformInfo } from '../test/platform/info.js';
import { type Mode, startBenchEngine } from './bench-engine.js';
import { ms, percentile } from './stats.js';

export type { Mode } from './bench-engine.js';

export interface ModeResult {
  mode: Mode;
  grants: number;
  activation: { p50: number; p95: number; calls: Record<string, number> };
  revocation: { p50: number; p95: number; calls: Record<string, number> };
}

export async function grantCost(info: PlatformInfo, mode: Mode, grants: number): Promise<ModeResult> {
  const engine = await startBenchEngine(info, mode, { concurrency: 10 });
  const { runtime, log } = engine;
  const activation: number[] = [];
  const revocation: number[] = [];
  const activationCalls: Map<string, number>[] = [];
  const revocationCalls: Map<string, number>[] = [];
  try {
    // One grant at a time, so the calls counted in each phase are that grant's.
    for (let i = 0; i < grants; i++) {
      const grant = await engine.approvedGrantForNewPerson(i, 2);
      log.reset();
      const active = engine.seen(grant.id, 'activated');
      const approvedAt = performance.now();
      await runtime.store.create(grant);
      await runtime.scheduler.enqueueActivation(grant.id);
      activation.push((await active) - approvedAt);
      activationCalls.push(log.reset());
      const ended = engine.seen(grant.id, 'ended');
      const stored = await runtime.store.get(grant.id);
      const endedAt = await ended;
      // expiresAt is wall-clock; the notification moment is on the same clock via timeOrigin.
      revocation.push(performance.timeOrigin + endedAt - (stored?.expiresAt ?? 0));
      revocationCalls.push(log.reset());
    }
  } finally {
    await engine.close();
  }
  return {
    mode,
    grants,
    activation: {
      p50: percentile(activation, 50),
      p95: percentile(activation, 95),
      calls: median(activationCalls),
    },
    revocation: {
      p50: percentile(revocation, 50),
      p95: percentile(revocation, 95),
      calls: median(revocationCalls),
    },
  };
}

/** Per call kind, the median count over grants (grants after the first are alike; the median says so). */
function median(perGrant: readonly Map<string, number>[]): Record<string, number> {
  const keys = new Set(perGrant.flatMap((m) => [...m.keys()]));
  return Object.fromEntries(
    [...keys].sort().map((k) => [
      k,
      percentile(
        perGrant.map((m) => m.get(k) ?? 0),
        50,
      ),
    ]),
  );
}

export function printGrantCost(results: readonly ModeResult[]): void {
  console.log('\n## Grant cost (one grant at a time, first grant of each person, 2 s duration)\n');
  console.log(
    '| mode | grants | approval → active p50 / p95 | expiry → gone p50 / p95 | API calls: activation | API calls: revocation |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  const total = (c: Record<string, number>, prefix: string) =>
    Object.entries(c)
      .filter(([k]) => k.startsWith(prefix))
      .reduce((sum, [, v]) => sum + v, 0);
  for (const r of results) {
    const calls = (c: Record<string, number>) => `${total(c, 'k8s')} Kubernetes + ${total(c, 'aws')} AWS`;
    console.log(
      `| ${r.mode} | ${r.grants} | ${ms(r.activation.p50)} / ${ms(r.activation.p95)} | ${ms(r.revocation.p50)} / ${ms(r.revocation.p95)} | ${calls(r.activation.calls)} | ${calls(r.revocation.calls)} |`,
    );
  }
  for (const r of results) {
    console.log(`\n${r.mode}, per grant (median):`);
    for (const phase of ['activation', 'revocation'] as const) {
      const c = r[phase].calls;
      console.log(
        `  ${phase}: ${Object.entries(c)
          .map(([k, v]) => `${k} ×${v}`)
          .join(', ')}`,
      );
    }
  }
}
