// Leased locks on Redis (SET NX PX + a token-checked release), for the Locks port.
import { randomUUID } from 'node:crypto';
import { AccessError } from '../../domain/errors.js';
import type { Locks } from '../../ports/lock.js';
import type { RedisClient } from './connection.js';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

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
    const leaseMs = options.leaseMs ?? 60_000;
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
    try {
      return await work();
    } finally {
      await this.#redis.eval(RELEASE, 1, redisKey, token).catch(() => undefined);
    }
  }
}
