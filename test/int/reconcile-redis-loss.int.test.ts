// Redis loses its data while every process keeps running (a failover to an empty replica, a managed
// Redis restarted without persistence): FLUSHALL on a redis-server of this test's own (the platform's
// is shared by other files). The worker that keeps running must still revoke every expired grant —
// RoleBinding, IAM role (moto) and aws-auth entry — within one reconcile period of expiry, from
// cluster state alone, and leave the foreign aws-auth entries as they were. A grant still live comes back
// to its requester: rebuilt from its sealed RoleBinding within one period, listed, and ended by `done`.
import { isDeepStrictEqual } from 'node:util';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES, RECONCILE_SCHEDULER_ID } from '../../src/adapters/queue/queues.js';
import type { FlowDeps } from '../../src/bot/deps.js';
import { endAccess } from '../../src/bot/end-access.js';
import { type EndReason, type Grant, transition } from '../../src/domain/grant.js';
import { LABELS, personalRoleName } from '../../src/domain/names.js';
import { REBUILT_REASON } from '../../src/domain/rebuilt-grant.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis.js';
import { engineHarness, type Harness, ORIGINAL_AWS_AUTH, readAwsAuth } from './engine-harness.js';

const PERIOD_MS = 3_000;
/** Scheduling, a sweep's own duration and polling on a shared 2-core machine. */
const SLACK_MS = 4_000;

let redis: PrivateRedis | undefined;
let h: Harness | undefined;

beforeAll(async () => {
  redis = await startPrivateRedis('flush');
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(async () => {
  await redis?.stop();
});

describe('Redis emptied while the worker keeps running', () => {
  it('still revokes every expired grant within one reconcile period, from cluster state alone', async () => {
    const redisUrl = (redis as PrivateRedis).url;
    h = await engineHarness('aws-auth', { redisUrl });
    const harness = h;
    const running = await harness.startWorker({ reconcileEveryMs: PERIOD_MS });
    const people = await Promise.all([harness.person(), harness.person(), harness.person()]);
    const grants = await Promise.all(
      people.map(async (p) =>
        harness.waitFor((await harness.approve(p, { durationSeconds: 12 })).id, ['active']),
      ),
    );
    // Active in the store comes before the revoke job is queued: wait until each activation is over,
    // so no job written after the flush can do the reconciler's work.
    for (const g of grants) await harness.notifier.announced(g.id, 'activated');
    const roles = people.map((p) => personalRoleName(harness.cluster, p.principalArn));
    const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const ourBindings = async () =>
      (await rbac.listNamespacedRoleBinding({ namespace: harness.namespace })).items.filter((b) =>
        grants.some((g) => b.metadata?.labels?.[LABELS.grantId] === g.id),
      ).length;
    expect(await ourBindings()).toBe(grants.length);
    for (const role of roles) {
      expect(await harness.roleExists(role)).toBe(true);
      expect((await readAwsAuth(harness))['mapRoles']).toContain(role);
    }

    // Every key goes: grants, delayed revoke jobs, the reconciler's job scheduler, the epoch.
    const admin = new Redis(redisUrl);
    try {
      // One transaction: the running worker writes again at once (its epoch, its scheduler).
      const [, size] = (await admin.multi().flushall().dbsize().exec()) ?? [];
      expect(size).toEqual([null, 0]);
    } finally {
      admin.disconnect();
    }

    const expiresAt = Math.max(...grants.map((g) => g.expiresAt as number));
    const deadline = expiresAt + PERIOD_MS + SLACK_MS;
    await pollUntil(
      'every RoleBinding, IAM role and aws-auth entry of the grants gone',
      async () => {
        const bindings = await ourBindings();
        const rolesLeft = (await Promise.all(roles.map((r) => harness.roleExists(r)))).filter(Boolean).length;
        const awsAuth = await readAwsAuth(harness);
        return { bindings, rolesLeft, awsAuthClean: isDeepStrictEqual(awsAuth, ORIGINAL_AWS_AUTH) };
      },
      (s) => s.bindings === 0 && s.rolesLeft === 0 && s.awsAuthClean,
      { timeoutMs: Math.max(1_000, deadline - Date.now()), intervalMs: 250 },
    );
    const lateBy = Date.now() - expiresAt;
    expect(lateBy).toBeLessThanOrEqual(PERIOD_MS + SLACK_MS);
    // The same worker did it: never closed, never restarted, its workers still running.
    expect(running.workers.every((w) => w.isRunning())).toBe(true);
    // And it re-created what it needs: the scheduler is back in Redis.
    const schedulers = await harness.runtime.scheduler.queue(QUEUES.reconcile).getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toContain(RECONCILE_SCHEDULER_ID);
  });

  it("rebuilds a live grant from its sealed RoleBinding within one period: back in its requester's list, and `done` ends it", async () => {
    const redisUrl = (redis as PrivateRedis).url;
    h = await engineHarness('none', { redisUrl });
    const harness = h;
    await harness.startWorker({ reconcileEveryMs: PERIOD_MS });
    const person = await harness.person();
    const original = await harness.waitFor((await harness.approve(person)).id, ['active']);
    await harness.notifier.announced(original.id, 'activated');
    const admin = new Redis(redisUrl);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    const flushedAt = Date.now();
    expect(await harness.runtime.store.listByRequester(person.slackUserId)).toEqual([]);

    // What `list` and App Home read: the requester's grants.
    const [rebuilt] = await pollUntil(
      "the grant back in its requester's list",
      () => harness.runtime.store.listByRequester(person.slackUserId),
      (grants) => grants.length > 0,
      { timeoutMs: PERIOD_MS + SLACK_MS, intervalMs: 100 },
    );
    expect(Date.now() - flushedAt).toBeLessThanOrEqual(PERIOD_MS + SLACK_MS);
    // Sealed facts only; what the binding's seal does not cover says it is unknown.
    expect(rebuilt).toMatchObject({
      id: original.id,
      status: 'active',
      cluster: original.cluster,
      namespace: original.namespace,
      level: original.level,
      expiresAt: original.expiresAt,
      requester: {
        slackUserId: person.slackUserId,
        principalArn: person.principalArn,
        kubernetesUsername: original.requester.kubernetesUsername,
      },
      reason: REBUILT_REASON,
      approvals: [],
      rebuilt: { from: 'role-binding' },
    });
    const trail = await harness.runtime.audit.read({ grantId: original.id });
    expect(trail.map((e) => e.action)).toContain('grant-rebuilt');
    // It can only end: no extension, no later expiry.
    expect(() =>
      transition(rebuilt as Grant, 'active', { expiresAt: (rebuilt?.expiresAt ?? 0) + 1 }),
    ).toThrow(/can only end/);

    const user = original.requester.kubernetesUsername;
    expect(await harness.allowed(user, 'list', 'pods', '', harness.namespace)).toBe(true);
    // `done`, as the Slack command calls it: the access ends and the end is announced.
    const flow = {
      store: harness.runtime.store,
      policy: harness.runtime.policy,
      engine: {
        endGrant: (id: string, reason: EndReason, actor: string) => endGrant(harness.deps, id, reason, actor),
      },
    } as unknown as FlowDeps; // endAccess by the requester reads the store and calls the engine only
    await endAccess(flow, original.id, person.slackUserId, 'done');
    await harness.waitFor(original.id, ['relinquished']);
    await harness.notifier.announced(original.id, 'ended');
    expect(
      await harness.allowed(original.requester.kubernetesUsername, 'list', 'pods', '', harness.namespace),
    ).toBe(false);
  });

  it('sweeps from the worker itself when the queue delivers no reconcile or revoke job for two periods', async () => {
    h = await engineHarness('none', { redisUrl: (redis as PrivateRedis).url });
    const harness = h;
    const running = await harness.startWorker({ reconcileEveryMs: PERIOD_MS });
    const grant = await harness.waitFor(
      (await harness.approve(await harness.person(), { durationSeconds: 2 })).id,
      ['active'],
    );
    // The queue delivers nothing more (its reconcile and revoke consumers closed): only the in-process
    // fallback timer is left to end the grant.
    await Promise.all(
      running.workers.filter((w) => w.name === 'reconcile' || w.name === 'revoke').map((w) => w.close(true)),
    );
    const ended = await harness.waitFor(grant.id, ['expired'], 2 * PERIOD_MS + PERIOD_MS + SLACK_MS + 2_000);
    expect((ended.endedAt as number) - (grant.expiresAt as number)).toBeLessThanOrEqual(
      3 * PERIOD_MS + SLACK_MS,
    );
    // The sweep that ended the grant records itself when it finishes, after the grant's own write.
    await pollUntil(
      'the fallback sweep that ended the grant to complete',
      async () => running.keeper.lastRunAt ?? 0,
      (at) => at >= (grant.expiresAt as number),
      { timeoutMs: PERIOD_MS + SLACK_MS, intervalMs: 50 },
    );
    await expect(running.keeper.ready()).resolves.toBeUndefined();
  });
});
