// The Redis grant store, audit stream and locks against a real redis-server.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisAuditLog } from '../../src/adapters/redis/audit-log.js';
import { RedisGrantStore } from '../../src/adapters/redis/grant-store.js';
import { RedisLocks } from '../../src/adapters/redis/locks.js';
import { type Grant, transition } from '../../src/domain/grant.js';
import { platform, uniqueName } from '../platform/context.js';

const redis = new Redis(platform().redisUrl);
afterAll(() => redis.quit());

function freshGrant(prefix: string): Grant {
  return {
    id: uniqueName('ea'),
    version: 1,
    status: 'pending',
    requester: {
      slackUserId: prefix,
      principalArn: 'arn:aws:iam::111122223333:user/a',
      kubernetesUsername: 'eks-access:a',
    },
    cluster: 'dev',
    namespace: 'test',
    level: 'view',
    durationSeconds: 60,
    reason: 'tests',
    requiredApprovals: 1,
    approvals: [],
    createdAt: Date.now(),
    pendingUntil: Date.now() + 60_000,
    extensions: [],
  };
}

describe('RedisGrantStore', () => {
  it('lets exactly one of many concurrent writers move a grant', async () => {
    const store = new RedisGrantStore(redis, `{${uniqueName('t')}}:`);
    const grant = freshGrant(`U${uniqueName('r').toUpperCase()}`);
    await store.create(grant);
    const attempts = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.replace(transition(grant, 'approved', { decidedAt: i }))),
    );
    expect(attempts.filter(Boolean)).toHaveLength(1);
    const stored = await store.get(grant.id);
    expect(stored?.status).toBe('approved');
    expect(stored?.version).toBe(2);
  });

  it('refuses a second create with the same id', async () => {
    const store = new RedisGrantStore(redis, `{${uniqueName('t')}}:`);
    const grant = freshGrant('UDUP');
    await store.create(grant);
    await expect(store.create(grant)).rejects.toMatchObject({ kind: 'conflict' });
  });

  it('keeps status and requester indexes in step with every transition', async () => {
    const store = new RedisGrantStore(redis, `{${uniqueName('t')}}:`);
    const grant = freshGrant('UIDX');
    await store.create(grant);
    await store.replace(transition(grant, 'approved'));
    expect((await store.listByStatus(['pending'])).map((g) => g.id)).toEqual([]);
    expect((await store.listByStatus(['approved'])).map((g) => g.id)).toEqual([grant.id]);
    expect([await store.countByStatus('pending'), await store.countByStatus('approved')]).toEqual([0, 1]);
    expect((await store.listByRequester('UIDX')).map((g) => g.id)).toEqual([grant.id]);
    expect(await store.get('ea-missing0')).toBeUndefined();
  });

  it('lists and counts more grants than one MGET slice reads', async () => {
    const store = new RedisGrantStore(redis, `{${uniqueName('t')}}:`);
    const grants = Array.from({ length: 1234 }, () => freshGrant('UMANY'));
    for (let i = 0; i < grants.length; i += 100)
      await Promise.all(grants.slice(i, i + 100).map((g) => store.create(g)));
    const listed = await store.listByStatus(['pending']);
    expect(new Set(listed.map((g) => g.id))).toEqual(new Set(grants.map((g) => g.id)));
    expect(listed).toHaveLength(1234);
    expect(await store.countByStatus('pending')).toBe(1234);
  });

  it('says unavailable (not a crash) when Redis is gone', async () => {
    const dead = new Redis({
      port: 1,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    dead.on('error', () => undefined);
    const store = new RedisGrantStore(dead, '{x}:');
    await expect(store.get('ea-anything')).rejects.toMatchObject({ kind: 'unavailable' });
    dead.disconnect();
  });
});

describe('RedisAuditLog', () => {
  it('appends events and reads them back by time and by grant', async () => {
    const audit = new RedisAuditLog(redis, `{${uniqueName('a')}}:`);
    const start = Date.now();
    await audit.append({
      action: 'requested',
      actor: 'U1',
      grantId: 'ea-1',
      at: start,
      details: { namespace: 'test' },
    });
    await audit.append({ action: 'approved', actor: 'U2', grantId: 'ea-2', at: start + 1 });
    const all = await audit.read({ since: start - 1000 });
    expect(all.map((e) => e.action)).toEqual(['requested', 'approved']);
    expect(all[0]?.details).toEqual({ namespace: 'test' });
    expect((await audit.read({ grantId: 'ea-2' })).map((e) => e.actor)).toEqual(['U2']);
  });
});

describe('RedisLocks', () => {
  it('serialises holders of the same key', async () => {
    const locks = new RedisLocks(redis, `{${uniqueName('l')}}:`);
    const order: string[] = [];
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        locks.withLock('k', async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          order.push(`in${i}`);
          await redis.ping();
          inside -= 1;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(order).toHaveLength(5);
  });

  it('a live holder keeps its lock past the lease; a dead one loses it within a lease', async () => {
    const prefix = `{${uniqueName('l')}}:`;
    const locks = new RedisLocks(redis, prefix);
    let finish!: () => void;
    const working = new Promise<void>((resolve) => {
      finish = resolve;
    });
    let entered!: () => void;
    const holding = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const holder = locks.withLock(
      'k',
      async () => {
        entered();
        await working;
        return 'held';
      },
      { leaseMs: 300 },
    );
    await holding;
    // Four leases long, another contender does not get in: the holder renews while it works.
    await expect(locks.withLock('k', async () => 'stolen', { waitMs: 1_200 })).rejects.toMatchObject({
      kind: 'unavailable',
    });
    finish();
    expect(await holder).toBe('held');
    expect(await redis.exists(`${prefix}lock:k`)).toBe(0);

    // A holder that died (its key left behind, nobody renewing it) blocks for one lease at most.
    await redis.set(`${prefix}lock:k`, 'a-dead-worker', 'PX', 300);
    expect(await locks.withLock('k', async () => 'after the lease', { waitMs: 5_000 })).toBe(
      'after the lease',
    );
  });
});
