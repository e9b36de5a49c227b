// eks-access on a real Redis Cluster (3 masters, 3 replicas, this file's own: test/platform/redis-cluster.ts),
// with REDIS_URL=redis+cluster://… naming one seed node that does NOT serve slot 1441, the slot of the
// production prefix `{eks-access}`: a single-node client there gets `MOVED 1441` for every command.
// The engine's whole life runs on it (approve → active → revoked on time), and the scale-out scenario
// (two bots, two workers, concurrent double approvals) on a reduced count.
import { isDeepStrictEqual } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { doctorProbes } from '../../src/adapters/doctor-probes.js';
import { QUEUES, RECONCILE_SCHEDULER_ID } from '../../src/adapters/queue/queues.js';
import { parseEnv } from '../../src/config/load.js';
import { systemClock } from '../../src/domain/clock.js';
import { personalRoleName } from '../../src/domain/names.js';
import { type RedisCluster, startRedisCluster } from '../platform/redis-cluster.js';
import { engineHarness, type Harness, ORIGINAL_AWS_AUTH, readAwsAuth } from './engine-harness.js';
import { type Stack, startStack } from './ops-stack.js';
import { approveConcurrentlyOnTwoBots } from './scale-out-scenario.js';

const PREFIX = '{eks-access}';
let cluster: RedisCluster | undefined;
let h: Harness | undefined;
let stack: Stack | undefined;

beforeAll(async () => {
  cluster = await startRedisCluster('cluster-life');
}, 60_000);
afterEach(async () => {
  await h?.close();
  h = undefined;
  await stack?.close();
  stack = undefined;
});
afterAll(async () => {
  await cluster?.stop();
});

describe('on a Redis Cluster, seeded through a node that does not serve the prefix slot', () => {
  it('a grant goes active and is revoked on time: RoleBinding, IAM role, aws-auth entry', async () => {
    const c = cluster as RedisCluster;
    const seed = await c.masterNotServing(PREFIX);
    // The premise: that node answers MOVED for our slot, so a single-node client would do nothing.
    const single = new Redis({ host: '127.0.0.1', port: seed, lazyConnect: true, maxRetriesPerRequest: 0 });
    single.on('error', () => undefined);
    await single.connect();
    await expect(single.get(`${PREFIX}:epoch`)).rejects.toThrow(/MOVED 1441 /);
    single.disconnect();

    h = await engineHarness('aws-auth', { redisUrl: c.url(seed), redisPrefix: PREFIX });
    const harness = h;
    await harness.startWorker({ reconcileEveryMs: 3_000 });
    const person = await harness.person();
    const approved = await harness.approve(person, { durationSeconds: 8 });
    const active = await harness.waitFor(approved.id, ['active']);
    // Active in the store comes before the revoke job is queued and the activation announced.
    await harness.notifier.announced(approved.id, 'activated');
    const role = personalRoleName(harness.cluster, person.principalArn);
    expect(await harness.allowed(person.username, 'create', 'jobs', 'batch', harness.namespace)).toBe(true);
    expect(await harness.roleExists(role)).toBe(true);
    expect((await readAwsAuth(harness))['mapRoles']).toContain(role);
    // Everything lives in the tag's slot on its master: grant, queues, the reconciler's job scheduler.
    const owner = await c.masterFor(PREFIX);
    const onOwner = new Redis({ host: '127.0.0.1', port: owner });
    try {
      expect(await onOwner.exists(`${PREFIX}grant:${approved.id}`)).toBe(1);
      expect(await onOwner.exists(`${PREFIX}:${QUEUES.revoke}:delayed`)).toBe(1);
    } finally {
      onOwner.disconnect();
    }
    const schedulers = await harness.runtime.scheduler.queue(QUEUES.reconcile).getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toContain(RECONCILE_SCHEDULER_ID);

    const ended = await harness.waitFor(approved.id, ['expired'], 20_000);
    // The revoke job fired at expiry (not the reconciler a period later).
    expect((ended.endedAt as number) - (active.expiresAt as number)).toBeLessThan(3_000);
    expect(await harness.allowed(person.username, 'create', 'jobs', 'batch', harness.namespace)).toBe(false);
    expect(await harness.roleExists(role)).toBe(false);
    expect(isDeepStrictEqual(await readAwsAuth(harness), ORIGINAL_AWS_AUTH)).toBe(true);
    await harness.notifier.announced(approved.id, 'ended');
    const actions = (await harness.runtime.audit.read({ grantId: approved.id })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['activated', 'expired']));
  }, 90_000);

  it('two bots and two workers: 6 grants approved concurrently on both bots, each activated once', async () => {
    const c = cluster as RedisCluster;
    const requesters = Array.from({ length: 6 }, (_, i) => `U0CLU${String(i).padStart(2, '0')}`);
    stack = await startStack({ requesters, redisUrl: c.url(await c.masterNotServing(PREFIX)) });
    await approveConcurrentlyOnTwoBots(stack, requesters);
  }, 120_000);

  it('doctor reads the cluster (noeviction, the last sweep) and names an unreachable one without its password', async () => {
    const c = cluster as RedisCluster;
    const probe = (url: string) =>
      doctorProbes({
        env: parseEnv({ REDIS_URL: url, REDIS_PREFIX: PREFIX }),
        loadConfig: () => {
          throw new Error('not needed');
        },
        clock: systemClock,
      }).redis();
    const { maxmemoryPolicy, reconcile } = await probe(c.url(await c.masterNotServing(PREFIX)));
    expect(maxmemoryPolicy).toBe('noeviction');
    // The first test's worker swept under this prefix, and recorded it in the prefix's slot.
    expect(reconcile?.lastRunAt).toBeGreaterThan(0);
    const unreachable = await probe('redis+cluster://eks-access:hunter2-secret@127.0.0.1:1').catch(
      (e: Error) => e,
    );
    expect(String((unreachable as Error).message)).toBe(
      'Redis is not reachable at redis+cluster://127.0.0.1:1',
    );
  });
});
