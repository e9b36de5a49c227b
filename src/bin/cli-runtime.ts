// The CLI's view of the engine runtime: the store, the audit stream, break-glass endGrant and reconcile.
// PROVISIONAL until src/bin/runtime.ts (the engine's shared composition) lands: store and audit only.
import { Redis } from 'ioredis';
import { RedisAuditLog } from '../adapters/redis/audit-log.js';
import { RedisGrantStore } from '../adapters/redis/grant-store.js';
import type { Env } from '../config/env.js';
import type { LoadedPolicy } from '../config/load.js';
import { AccessError } from '../domain/errors.js';
import type { CliRuntime } from './cli.js';

export async function buildCliRuntime(env: Env, _loaded: LoadedPolicy): Promise<CliRuntime> {
  const redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 1, lazyConnect: true });
  await redis.connect();
  const unavailable = async (): Promise<never> => {
    throw new AccessError('internal', 'this build has no engine runtime yet');
  };
  return {
    store: new RedisGrantStore(redis, env.REDIS_PREFIX),
    audit: new RedisAuditLog(redis, env.REDIS_PREFIX),
    endGrant: unavailable,
    reconcile: unavailable,
    close: async () => {
      redis.disconnect();
    },
  };
}
