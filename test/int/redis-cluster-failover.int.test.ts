// The chaos scenario for a Redis Cluster: the master serving slot 1441 (`{eks-access}`, where every key
// of eks-access and BullMQ lives) is SIGKILLed while grants are active; Redis promotes its replica
// (cluster-node-timeout 1 s, test/platform/redis-cluster.ts). The worker keeps running through it:
// no grant may be lost, a grant approved after the failover must activate, and every grant must still
// be revoked on time (its delayed revoke job survived on the replica) with nothing left behind.
import { isDeepStrictEqual } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GRANT_STATUSES } from '../../src/domain/grant.js';
import { personalRoleName } from '../../src/domain/names.js';
import { type RedisCluster, startRedisCluster } from '../platform/redis-cluster.js';
import { pollUntil } from '../support/poll.js';
import { engineHarness, type Harness, ORIGINAL_AWS_AUTH, readAwsAuth } from './engine-harness.js';

const PREFIX = '{eks-access}';
/** Revocation "on time": the revoke job fires at expiry; this covers its pickup on a loaded 2-core machine. */
const ON_TIME_MS = 3_000;

let cluster: RedisCluster | undefined;
let h: Harness | undefined;

beforeAll(async () => {
  cluster = await startRedisCluster('cluster-failover');
}, 60_000);
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(async () => {
  await cluster?.stop();
});

describe('Redis Cluster failover of the master serving {eks-access}', () => {
  it('loses no grant, activates after the failover, and revokes every grant on time', async () => {
    const c = cluster as RedisCluster;
    const owner = await c.masterFor(PREFIX);
    h = await engineHarness('aws-auth', {
      redisUrl: c.url(await c.masterNotServing(PREFIX)),
      redisPrefix: PREFIX,
    });
    const harness = h;
    const running = await harness.startWorker({ reconcileEveryMs: 3_000 });
    const people = await Promise.all([harness.person(), harness.person(), harness.person()]);
    const before = await Promise.all(
      people.map(async (p) =>
        harness.waitFor((await harness.approve(p, { durationSeconds: 20 })).id, ['active']),
      ),
    );
    await c.replicaCaughtUp(owner);

    const killedAt = Date.now();
    await c.kill(owner);
    const promoted = await c.healthy(PREFIX);
    const failoverMs = Date.now() - killedAt;
    expect(promoted).not.toBe(owner);

    // No grant lost: every one still there and active, read through the worker's own client.
    const still = await pollUntil(
      'the grants readable through the failed-over cluster',
      () => harness.runtime.store.listByStatus(GRANT_STATUSES).catch(() => []),
      (grants) => grants.length === before.length,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(still.map((g) => [g.id, g.status]).sort()).toEqual(before.map((g) => [g.id, 'active']).sort());
    const readableAfterMs = Date.now() - killedAt;

    // The same worker process takes new work on the promoted master.
    const late = await harness.person();
    const after = await harness.waitFor((await harness.approve(late, { durationSeconds: 6 })).id, ['active']);
    expect(await harness.allowed(late.username, 'create', 'jobs', 'batch', harness.namespace)).toBe(true);

    const all = [...before, after];
    const ended = await Promise.all(all.map((g) => harness.waitFor(g.id, ['expired'], 40_000)));
    const lateBy = ended.map((g, i) => (g.endedAt as number) - (all[i]?.expiresAt as number));
    console.info(
      `redis-cluster failover: replica promoted ${failoverMs} ms after the kill; grants readable after ${readableAfterMs} ms; ` +
        `revoked ${lateBy.join(', ')} ms after expiry`,
    );
    for (const ms of lateBy) expect(ms).toBeLessThanOrEqual(ON_TIME_MS);
    for (const p of [...people, late]) {
      expect(await harness.allowed(p.username, 'create', 'jobs', 'batch', harness.namespace)).toBe(false);
      expect(await harness.roleExists(personalRoleName(harness.cluster, p.principalArn))).toBe(false);
    }
    expect(isDeepStrictEqual(await readAwsAuth(harness), ORIGINAL_AWS_AUTH)).toBe(true);
    expect(running.workers.every((w) => w.isRunning())).toBe(true);
  }, 120_000);
});
