// Leased locks on Redis (SET NX PX, a token-checked renewal while the holder works, a token-checked
// release), for the Locks port.
import { randomUUID } from 'node:crypto';
import { AccessError } from '../../domain/errors.js';
import type { Locks } from '../../ports/lock.js';
import type { RedisClient } from './connection.js';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * How long a lock outlives a holder that died (SIGKILL, node loss) without releasing it: short, because
 * whoever waits for it (the revocation of that person's expired grant) waits this long. A live holder
 * renews it every fifth of that, so work may take as long as it needs, and four missed renewals in a
 * row (an event loop stalled for seconds, a Redis blip) still do not lose it.
 */
export const DEFAULT_LEASE_MS = 5_000;

export class RedisLocks implements Locks {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  async withLock<T>(
    key: string,
    work: () => Promise<T>,
    options: { leaseMs?: number; waitMs?: number } = {},
  ): Promise<T> {
    const leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    const deadline = Date.now() + (options.waitMs ?? 120_000);
    const redisKey = `${this.#prefix}lock:${key}`;
    const token = randomUUID();
    let backoff = 10;
    for (;;) {
      const acquired = await this.#redis.set(redisKey, token, 'PX', leaseMs, 'NX');
      if (acquired === 'OK') break;
      if (Date.now() > deadline) {
        throw new AccessError('unavailable', `Timed out waiting for lock ${key}`, { details: { key } });
      }
      // A short jittered back-off: holders finish in well under a second in the common case.
      await new Promise((resolve) => setTimeout(resolve, backoff + Math.random() * backoff));
      backoff = Math.min(backoff * 2, 500);
    }
    // Renewed while the work runs: a slow holder (IAM throttling) keeps its lock, a dead one loses it
    // within one lease. A failed renewal is tried again at the next beat.
    const renewal = setInterval(
      () => void this.#redis.eval(RENEW, 1, redisKey, token, leaseMs).catch(() => undefined),
      Math.max(50, Math.floor(leaseMs / 5)),
    );
    renewal.unref();
    try {
      return await work();
    } finally {
      clearInterval(renewal);
      await this.#redis.eval(RELEASE, 1, redisKey, token).catch(() => undefined);
    }
  }
}
