// /metrics and /readyz of the running bot and worker compositions, on the test platform. A short grant
// goes through its whole life (request → approve → active → expired) through signed Slack requests;
// then a RoleBinding of that finished grant is put back on the apiserver behind eks-access's back and a
// reconciler run removes it. Every series docs/operations.md documents must say so. /readyz answers
// 503 naming `redis` while Redis is unreachable (a TCP proxy we cut), and 200 again once it is back.
// During a seal key rotation, a worker with the new key first shows the old one still sealing a live grant.
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { RbacAuthorizationV1Api, type V1RoleBinding } from '@kubernetes/client-node';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { OUTBOX_QUEUE, QUEUES } from '../../src/adapters/queue/queues.js';
import { ANNOTATIONS } from '../../src/domain/names.js';
import { adminKubeConfig, platform } from '../platform/context.js';
import { testSealKeys } from '../support/seal.js';
import { APPROVERS, type BotProcess, type Stack, startStack } from './ops-stack.js';

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

const ALICE = 'U0ALICE';

async function get(port: number, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, text: await response.text() };
}

/** The value of one sample in Prometheus text (labels matched as a subset), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) return Number(match[3]);
  }
  return undefined;
}

/** Alice's grant for `duration`, requested and approved through the bot, once the worker made it active. */
async function activeGrant(s: Stack, bot: BotProcess, duration: string): Promise<string> {
  expect(await bot.command(ALICE, `request ${s.namespace} for ${duration} because metrics`)).toBe(200);
  const [pending] = await s.until(
    'the request with its approval message',
    () => s.grants(),
    (grants) => grants.length === 1 && Boolean(grants[0]?.approvalMessage),
  );
  const grantId = pending?.id as string;
  const where = pending?.approvalMessage as { channel: string; ts: string };
  await bot.interact(
    s.slack.blockActions({
      user_id: APPROVERS[0],
      action_id: 'approve',
      channel: where.channel,
      message_ts: where.ts,
    }),
  );
  await s.until(
    'the grant active',
    async () => (await s.reader.store.get(grantId))?.status,
    (status) => status === 'active',
  );
  return grantId;
}

describe('/metrics after a grant’s full life', () => {
  it('counts requests by outcome, activation time, revocation lag, active grants, queue depth, jobs and reconciler findings', async () => {
    const s = await startStack({ requesters: [ALICE], duration: { default: '6s', max: '1m' } });
    stack = s;
    const bot = await s.startBot();
    const worker = await s.startWorker();
    const scrapeWorker = async () => (await get(worker.health.port, '/metrics')).text;
    const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);

    // Nothing has happened yet: the counters exist but hold nothing for a grant.
    const before = await scrapeWorker();
    expect(before).toContain('# TYPE eks_access_requests_total counter');
    expect(sample(before, 'eks_access_active_grants')).toBe(0);
    expect(sample(before, 'eks_access_activation_seconds_count')).toBe(0);

    // Request and approve through the bot; the worker activates.
    const grantId = await activeGrant(s, bot, '6s');
    // The store says active before the revoke job is queued and the activation announced (where it is
    // counted): wait for the count, then check every figure at that moment.
    const whileActive = await s.until('the activation counted', scrapeWorker, (t) =>
      Boolean(sample(t, 'eks_access_requests_total', { outcome: 'activated' })),
    );
    expect(sample(whileActive, 'eks_access_active_grants')).toBe(1);
    expect(sample(whileActive, 'eks_access_requests_total', { outcome: 'activated' })).toBe(1);
    expect(sample(whileActive, 'eks_access_activation_seconds_count')).toBe(1);
    // The revoke job waits for the expiry in the delayed set.
    expect(sample(whileActive, 'eks_access_queue_jobs', { queue: QUEUES.revoke, state: 'delayed' })).toBe(1);
    const [binding] = (
      await rbac.listNamespacedRoleBinding({
        namespace: s.namespace,
        labelSelector: `eks-access.io/grant-id=${grantId}`,
      })
    ).items;
    expect(binding).toBeDefined();

    // Expiry: the revoke job ends it.
    await s.until(
      'the grant expired',
      async () => (await s.reader.store.get(grantId))?.status,
      (status) => status === 'expired',
    );
    await s.until(
      'the revoke job counted',
      scrapeWorker,
      (t) => (sample(t, 'eks_access_jobs_total', { queue: QUEUES.revoke, result: 'completed' }) ?? 0) >= 1,
    );

    // Someone restores the finished grant's RoleBinding as it was (a backup, a GitOps sync), seal and
    // all: the reconciler removes it, its grant being over. (A restored copy with another expiry fails
    // the seal and is only reported: test/int/engine-seal.int.test.ts.)
    const { name, labels, annotations } = binding?.metadata ?? {};
    const restored: V1RoleBinding = {
      metadata: {
        name: name as string,
        namespace: s.namespace,
        labels: labels ?? {},
        annotations: annotations ?? {},
      },
      roleRef: binding?.roleRef as V1RoleBinding['roleRef'],
      subjects: binding?.subjects ?? [],
    };
    await rbac.createNamespacedRoleBinding({ namespace: s.namespace, body: restored });
    // Run the reconciler now (its scheduled period is an hour in this stack).
    const sweptAfter = Math.floor(Date.now() / 1000);
    await s.reader.scheduler.queue(QUEUES.reconcile).add('reconcile', { grantId: '' });
    await s.until(
      'the restored binding removed',
      () => s.bindings(),
      (b) => b.size === 0,
    );
    const after = await s.until(
      'the finding counted',
      scrapeWorker,
      (t) => (sample(t, 'eks_access_reconcile_findings_total', { kind: 'binding_removed' }) ?? 0) >= 1,
    );

    expect(sample(after, 'eks_access_reconcile_findings_total', { kind: 'binding_removed' })).toBe(1);
    // Exposed by the worker; its value is the shared API server's look-alikes (another test may make some).
    expect(sample(after, 'eks_access_forged_bindings')).toBeTypeOf('number');
    // This installation's only grant is over: its key seals nothing live, and it is the one that signs.
    const [key] = testSealKeys().ids as [string];
    expect(sample(after, 'eks_access_live_seals', { key })).toBe(0);
    expect(sample(after, 'eks_access_seal_key_info', { key, signing: 'true' })).toBe(1);
    expect(sample(after, 'eks_access_requests_total', { outcome: 'activated' })).toBe(1);
    expect(sample(after, 'eks_access_requests_total', { outcome: 'ended_expired' })).toBe(1);
    expect(sample(after, 'eks_access_activation_seconds_count')).toBe(1);
    expect(sample(after, 'eks_access_revocation_lag_seconds_count')).toBe(1);
    // The revoke job runs at the expiry: the lag is well under the first bucket boundary of a minute.
    expect(sample(after, 'eks_access_revocation_lag_seconds_bucket', { le: '60' })).toBe(1);
    expect(sample(after, 'eks_access_active_grants')).toBe(0);
    expect(sample(after, 'eks_access_jobs_total', { queue: QUEUES.activate, result: 'completed' })).toBe(1);
    expect(
      sample(after, 'eks_access_jobs_total', { queue: QUEUES.reconcile, result: 'completed' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'eks_access_jobs_total', { result: 'failed' })).toBeUndefined();
    expect(sample(after, 'eks_access_queue_jobs', { queue: QUEUES.activate, state: 'waiting' })).toBe(0);
    expect(sample(after, 'eks_access_queue_jobs', { queue: QUEUES.revoke, state: 'delayed' })).toBe(0);
    expect(sample(after, 'eks_access_queue_jobs', { queue: QUEUES.reconcile, state: 'delayed' })).toBe(1);
    // The Slack outbox is on the gauge too (its alerts watch it): nothing refused, nothing given up.
    expect(sample(after, 'eks_access_queue_jobs', { queue: OUTBOX_QUEUE, state: 'failed' })).toBe(0);
    // That sweep completed without errors, and the gauges say when.
    expect(sample(after, 'eks_access_reconcile_last_run_timestamp_seconds')).toBeGreaterThanOrEqual(
      sweptAfter,
    );
    expect(sample(after, 'eks_access_reconcile_last_success_timestamp_seconds')).toBeGreaterThanOrEqual(
      sweptAfter,
    );

    // The bot counts what happens on its side: the request and the approval.
    const botText = (await get(bot.metricsPort, '/metrics')).text;
    expect(sample(botText, 'eks_access_requests_total', { outcome: 'requested' })).toBe(1);
    expect(sample(botText, 'eks_access_requests_total', { outcome: 'approved' })).toBe(1);
  }, 90_000);
});

describe('/metrics during a seal key rotation', () => {
  it('shows the old key still sealing a live grant and the new one signing, so the old one stays', async () => {
    const s = await startStack({ requesters: [ALICE], duration: { default: '10m', max: '1h' } });
    stack = s;
    const bot = await s.startBot();
    await s.startWorker();
    const grantId = await activeGrant(s, bot, '10m');
    expect((await s.bindings()).get(grantId)).toBe(1);

    // The operator puts a new key first (the run's key stays to verify); a worker with that ring sweeps.
    const [old] = testSealKeys().ids;
    const seal = s.env().SEAL_KEYS as string;
    const rotated = await s.startWorker({ SEAL_KEYS: `k2:${randomBytes(32).toString('base64')},${seal}` });
    const report = await rotated.workers.keeper.sweep('fallback');
    expect(report.errors).toEqual([]);
    const text = (await get(rotated.health.port, '/metrics')).text;
    expect(sample(text, 'eks_access_live_seals', { key: old as string })).toBe(1);
    expect(sample(text, 'eks_access_live_seals', { key: 'k2' })).toBe(0);
    expect(sample(text, 'eks_access_seal_key_info', { key: 'k2', signing: 'true' })).toBe(1);
    expect(sample(text, 'eks_access_seal_key_info', { key: old as string, signing: 'false' })).toBe(1);
    expect(sample(text, 'eks_access_seal_key_info', { key: old as string, signing: 'true' })).toBeUndefined();
  }, 60_000);
});

/** A TCP proxy in front of Redis that a test can cut and restore on the same port. */
async function redisProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = async () => {
    server = createServer((client) => {
      const upstream = connect(target.port, target.host);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server?.once('error', reject);
      server?.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as { port: number }).port;
  };
  await open();
  return {
    url: () => `redis://127.0.0.1:${port}`,
    cut: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    },
    restore: open,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}

describe('/readyz', () => {
  it('answers 503 naming redis while Redis is unreachable, and 200 once it is back', async () => {
    const s = await startStack({ requesters: [ALICE] });
    stack = s;
    const redisUrl = new URL(platform().redisUrl);
    const proxy = await redisProxy({ host: redisUrl.hostname, port: Number(redisUrl.port) });
    onTestFinished(() => proxy.close());
    const worker = await s.startWorker({ REDIS_URL: proxy.url() });
    const port = worker.health.port;

    const ready = await get(port, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({ ready: true, checks: { redis: 'ok', reconcile: 'ok' } });

    await proxy.cut();
    const down = await get(port, '/readyz');
    expect(down.status).toBe(503);
    const body = JSON.parse(down.text) as { ready: boolean; checks: Record<string, string> };
    expect(body.ready).toBe(false);
    expect(Object.keys(body.checks)).toEqual(['redis', 'reconcile']);
    expect(body.checks['redis']).not.toBe('ok');
    // The last sweep is recent: losing Redis for a moment does not make the reconciler overdue.
    expect(body.checks['reconcile']).toBe('ok');
    // Alive all the same: Kubernetes should stop routing, not restart the pod.
    expect((await get(port, '/healthz')).status).toBe(200);

    await proxy.restore();
    await s.until(
      'ready again',
      async () => (await get(port, '/readyz')).status,
      (status) => status === 200,
    );
    // A BullMQ Worker whose connection was cut may never finish a graceful close (its blocking
    // connection's drain waits forever); bin/worker.ts bounds the drain, the test forces it.
    await worker.workers.close(true);
  }, 60_000);
});
