// How every process reaches Redis: REDIS_URL (redis:// or rediss:// for TLS), an ACL user and password
// from their own settings (so the URL itself carries no secret), and an optional CA bundle for TLS.
// One place builds the connection, so the bot, the worker, the CLI and `doctor` all authenticate alike.
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import type { Env } from '../../config/env.js';

/** ioredis options without the RESP3 reply mapping, which eks-access never sets. */
export type ConnectionOptions = Omit<RedisOptions, 'replyMapping'>;

type RedisEnv = Pick<Env, 'REDIS_URL' | 'REDIS_USERNAME' | 'REDIS_PASSWORD' | 'REDIS_TLS_CA_FILE'>;

/** ioredis options for this environment (the URL's own user/password, if any, still apply). */
export function redisOptions(env: RedisEnv): ConnectionOptions {
  const tls = env.REDIS_URL.startsWith('rediss://');
  return {
    ...(env.REDIS_USERNAME ? { username: env.REDIS_USERNAME } : {}),
    ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
    // Certificate and host name are always verified; only the trusted CA is configurable.
    ...(tls && env.REDIS_TLS_CA_FILE ? { tls: { ca: readFileSync(env.REDIS_TLS_CA_FILE) } } : {}),
  };
}

export function connectRedis(env: RedisEnv, extra: ConnectionOptions = {}): Redis {
  return new Redis(env.REDIS_URL, { ...redisOptions(env), ...extra });
}
