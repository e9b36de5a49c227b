// Metrics derived from grant state changes (through the Notifier decorator) and the health server's
// three endpoints, over real HTTP on loopback.
import { afterEach, describe, expect, it } from 'vitest';
import { type HealthServer, startHealthServer } from '../../src/adapters/http/health-server.js';
import {
  createMetrics,
  instrumentNotifier,
  instrumentWorker,
  recordReconcile,
} from '../../src/adapters/metrics.js';
import type { Grant } from '../../src/domain/grant.js';
import { emptyReconcileReport, type ReconcileReport } from '../../src/engine/reconcile.js';
import type { GrantEvent } from '../../src/ports/notifier.js';

const T0 = Date.parse('2026-01-01T10:00:00Z');
const grant = (changes: Partial<Grant>): Grant =>
  ({ id: 'ea-abcdefgh', status: 'active', version: 1, ...changes }) as Grant;

describe('metrics', () => {
  it('turns a grant life into outcomes, activation latency and revocation lag, even if chat fails', async () => {
    const metrics = createMetrics({ activeGrants: async () => 3 }, { defaultMetrics: false });
    const seen: string[] = [];
    const notifier = instrumentNotifier(
      {
        grantChanged: async (_g, e) => {
          seen.push(e.kind);
          if (e.kind === 'ended') throw new Error('slack down');
        },
      },
      metrics,
    );
    const events: [Partial<Grant>, GrantEvent][] = [
      [{ status: 'pending' }, { kind: 'requested' }],
      [
        { status: 'approved', createdAt: T0 - 90_000, decidedAt: T0 },
        { kind: 'approved', by: 'U1' },
      ],
      [{ decidedAt: T0, activatedAt: T0 + 4_000 }, { kind: 'activated' }],
      [
        { status: 'expired', endReason: 'expired', expiresAt: T0 + 60_000, endedAt: T0 + 75_000 },
        { kind: 'ended' },
      ],
    ];
    for (const [changes, event] of events) {
      await notifier.grantChanged(grant(changes), event).catch(() => undefined);
    }
    expect(seen).toEqual(['requested', 'approved', 'activated', 'ended']);
    const text = await metrics.registry.metrics();
    expect(text).toContain('eks_access_requests_total{outcome="activated"} 1');
    expect(text).toContain('eks_access_requests_total{outcome="ended_expired"} 1');
    expect(text).toContain('eks_access_activation_seconds_sum 4');
    expect(text).toContain('eks_access_approval_seconds_sum 90');
    expect(text).toContain('eks_access_revocation_lag_seconds_sum 15');
    expect(text).toContain('eks_access_active_grants 3');
    // No login probed (no proof on the event): nothing said about AWS's propagation.
    expect(text).toContain('eks_access_login_propagation_seconds_count 0');
  });

  it('names break-glass uses and their reviews, and does not count a window’s wait as activation time', async () => {
    const metrics = createMetrics({}, { defaultMetrics: false });
    const notifier = instrumentNotifier({ grantChanged: async () => {} }, metrics);
    const events: [Partial<Grant>, GrantEvent][] = [
      [{}, { kind: 'break-glass-used', by: 'U1' }],
      [{}, { kind: 'break-glass-overdue' }],
      [{}, { kind: 'break-glass-reviewed', by: 'U2', verdict: 'flagged' }],
      [
        { decidedAt: T0, startsAt: T0 + 3_600_000, activatedAt: T0 + 3_602_000 },
        { kind: 'activated', usableAt: T0 + 3_605_000, loginProvenMs: 1_500 },
      ],
    ];
    for (const [changes, event] of events) await notifier.grantChanged(grant(changes), event);
    const text = await metrics.registry.metrics();
    expect(text).toContain('eks_access_requests_total{outcome="break_glass"} 1');
    expect(text).toContain('eks_access_requests_total{outcome="break_glass_review_overdue"} 1');
    expect(text).toContain('eks_access_requests_total{outcome="break_glass_flagged"} 1');
    // Approval (or the window's start) to usable: the writes and the probe after the clock started count.
    expect(text).toContain('eks_access_activation_seconds_sum 5');
    // The probe's wait for AWS is part of the activation, counted on its own.
    expect(text).toContain('eks_access_login_propagation_seconds_sum 1.5');
    expect(text).toContain('eks_access_login_propagation_seconds_count 1');
  });

  it('counts retried and finally failed jobs apart', async () => {
    const metrics = createMetrics({}, { defaultMetrics: false });
    const listeners: Record<string, (...args: never[]) => void> = {};
    instrumentWorker(
      {
        name: 'revoke',
        on: (event: string, listener: (...args: never[]) => void) => (listeners[event] = listener),
      },
      metrics,
    );
    const failed = listeners['failed'] as (job: unknown, error: Error) => void;
    failed({ attemptsMade: 1, opts: { attempts: 5 } }, new Error('throttled'));
    failed({ attemptsMade: 5, opts: { attempts: 5 } }, new Error('throttled'));
    const text = await metrics.registry.metrics();
    expect(text).toContain('eks_access_jobs_total{queue="revoke",result="retried"} 1');
    expect(text).toContain('eks_access_jobs_total{queue="revoke",result="failed"} 1');
  });

  it('shows how many look-alike RoleBindings the last reconcile pass found, not a running sum', async () => {
    const metrics = createMetrics({}, { defaultMetrics: false });
    const report = (forged: number): ReconcileReport => ({
      ...emptyReconcileReport(false, T0),
      forgedBindings: Array.from({ length: forged }, (_, i) => ({
        cluster: 'prod',
        namespace: 'test',
        name: `eks-access-ea-forged${i}`,
        uid: `u${i}`,
        grantId: `ea-forged${i}`,
        claims: {
          username: 'ops-admin',
          principalArn: 'arn:aws:iam::999999999999:user/x',
          expiresAt: '2099',
        },
        actual: { subjects: ['User:ops-admin'], roleRef: 'ClusterRole/admin' },
        verdict: 'missing' as const,
      })),
    });
    recordReconcile(metrics, report(3));
    recordReconcile(metrics, report(2));
    expect(await metrics.registry.metrics()).toContain('eks_access_forged_bindings 2');
    recordReconcile(metrics, { ...report(0), dryRun: true, forgedBindings: report(5).forgedBindings });
    expect(await metrics.registry.metrics()).toContain('eks_access_forged_bindings 2');
  });

  it('shows the live seals per key of SEAL_KEYS and which key signs, from passes that read every cluster', async () => {
    const metrics = createMetrics({}, { defaultMetrics: false });
    const sweep = (k2: number, k1: number, complete = true): ReconcileReport => ({
      ...emptyReconcileReport(false, T0),
      sealKeys: {
        uses: [
          { key: 'k2', signing: true, live: k2, ...(k2 ? { latestExpiry: T0 + 1 } : {}) },
          { key: 'k1', signing: false, live: k1, ...(k1 ? { latestExpiry: T0 + 2 } : {}) },
        ],
        complete,
      },
    });
    const text = async () => metrics.registry.metrics();
    recordReconcile(metrics, sweep(0, 1));
    expect(await text()).toContain('eks_access_live_seals{key="k2"} 0');
    expect(await text()).toContain('eks_access_live_seals{key="k1"} 1');
    expect(await text()).toContain('eks_access_seal_key_info{key="k2",signing="true"} 1');
    expect(await text()).toContain('eks_access_seal_key_info{key="k1",signing="false"} 1');
    // A pass that missed a cluster would undercount: the last full count stays.
    recordReconcile(metrics, sweep(3, 0, false));
    expect(await text()).toContain('eks_access_live_seals{key="k1"} 1');
    recordReconcile(metrics, sweep(3, 0));
    expect(await text()).toContain('eks_access_live_seals{key="k2"} 3');
    expect(await text()).toContain('eks_access_live_seals{key="k1"} 0');
    // After a restart without k1, its series go: only the ring's keys are shown.
    recordReconcile(metrics, {
      ...sweep(3, 0),
      sealKeys: { uses: [{ key: 'k2', signing: true, live: 3 }], complete: true },
    });
    expect(await text()).not.toContain('key="k1"');
  });
});

describe('health server', () => {
  let server: HealthServer | undefined;
  afterEach(async () => server?.close());

  it('is alive, ready only when every check passes, and serves /metrics', async () => {
    let redisUp = true;
    const metrics = createMetrics({}, { defaultMetrics: false });
    server = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      checks: {
        redis: async () => {
          if (!redisUp) throw new Error('Redis did not answer');
        },
        slack: async () => undefined,
      },
    });
    const get = (path: string) => fetch(`http://127.0.0.1:${server?.port}${path}`);
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    redisUp = false;
    const unready = await get('/readyz');
    expect(unready.status).toBe(503);
    expect(await unready.json()).toEqual({
      ready: false,
      checks: { redis: 'Redis did not answer', slack: 'ok' },
    });
    expect(await (await get('/metrics')).text()).toContain('# TYPE eks_access_requests_total counter');
    expect((await get('/nope')).status).toBe(404);
  });
});
