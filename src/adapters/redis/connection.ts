// How every process reaches Redis: REDIS_URL (redis:// or rediss:// for TLS; redis+cluster:// or
// rediss+cluster:// for a Redis Cluster's seed nodes), an ACL user and password from their own settings
// (so the URL itself carries no secret), and an optional CA bundle for TLS. One place builds the
// connection, so the bot, the worker, the CLI and `doctor` all authenticate alike, on one node or a cluster.
import { readFileSync } from 'node:fs';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Env } from '../../config/env.js';
import { parseRedisUrl, type RedisTarget } from '../../config/redis-url.js';

/**
 * A connection to one Redis or to a Redis Cluster. Every command we send names keys under REDIS_PREFIX,
 * whose hash tag puts them all in one slot, so scripts and MULTI work on either.
 */
export type RedisClient = Redis | Cluster;

/** ioredis options without the RESP3 reply mapping, which eks-access never sets. */
export type ConnectionOptions = Omit<RedisOptions, 'replyMapping'>;

/** What each node connection of a cluster is opened with. */
type NodeOptions = Omit<NonNullable<ClusterOptions['redisOptions']>, 'replyMapping'>;

type RedisEnv = Pick<Env, 'REDIS_URL' | 'REDIS_USERNAME' | 'REDIS_PASSWORD' | 'REDIS_TLS_CA_FILE'>;

function targetOf(env: Pick<Env, 'REDIS_URL'>): RedisTarget {
  const parsed = parseRedisUrl(env.REDIS_URL);
  // The env schema refused a bad URL already; this is for callers that built an Env by hand.
  if ('problem' in parsed) throw new Error(`REDIS_URL: ${parsed.problem}`);
  return parsed.target;
}

/**
 * ioredis options for this environment, for one node (the URL's own user/password, if any, still apply).
 * For a cluster they are the options of every node connection.
 */
export function redisOptions(env: RedisEnv): ConnectionOptions {
  const target = targetOf(env);
  const cluster = target.mode === 'cluster' ? target : undefined;
  const username = env.REDIS_USERNAME ?? cluster?.username;
  const password = env.REDIS_PASSWORD ?? cluster?.password;
  return {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    // Certificate and host name are always verified; only the trusted CA is configurable.
    ...(target.tls ? { tls: env.REDIS_TLS_CA_FILE ? { ca: readFileSync(env.REDIS_TLS_CA_FILE) } : {} } : {}),
  };
}

/**
 * `extra` is written as for one node; on a cluster the client-level parts (lazy connect, offline queue,
 * retry strategy) go to the Cluster and the rest to each node connection.
 */
export function connectRedis(env: RedisEnv, extra: ConnectionOptions = {}): RedisClient {
  const target = targetOf(env);
  if (target.mode === 'standalone') return new Redis(target.url, { ...redisOptions(env), ...extra });
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...perNode } = extra;
  const nodeOptions: NodeOptions = { ...redisOptions(env), ...perNode };
  return new Cluster(target.nodes, {
    redisOptions: nodeOptions,
    ...(lazyConnect === undefined ? {} : { lazyConnect }),
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(retryStrategy ? { clusterRetryStrategy: (times: number) => retryStrategy(times) ?? null } : {}),
    // TLS: connect to the host names the cluster announces, unresolved, so the certificate's host name
    // is checked against them (ElastiCache and MemoryDB announce names, and sign names, not addresses).
    ...(target.tls ? { dnsLookup: (address, callback) => callback(null, address) } : {}),
    // A failover (a replica promoted when its master dies) takes about cluster-node-timeout plus an
    // election; commands wait for it instead of failing after ioredis' 100 ms default.
    retryDelayOnFailover: 300,
    retryDelayOnClusterDown: 300,
    slotsRefreshTimeout: 2_000,
  });
}

/**
 * A second connection like `client` for a BullMQ Worker's blocking commands, which must wait forever
 * for Redis instead of failing after a retry count (BullMQ refuses a blocking connection with one).
 */
export function blockingDuplicate(client: RedisClient): RedisClient {
  if (client instanceof Cluster) {
    const { replyMapping: _legacy, ...nodeOptions } = client.options.redisOptions ?? {};
    return client.duplicate(undefined, { redisOptions: { ...nodeOptions, maxRetriesPerRequest: null } });
  }
  return client.duplicate({ maxRetriesPerRequest: null });
}

/** Where REDIS_URL points, for messages: its host(s), never a user or password. */
export function describeRedisUrl(url: string): string {
  const parsed = parseRedisUrl(url);
  if ('problem' in parsed) return '(unparseable REDIS_URL)';
  const { target } = parsed;
  if (target.mode === 'cluster') {
    const scheme = target.tls ? 'rediss+cluster' : 'redis+cluster';
    return `${scheme}://${target.nodes.map((n) => `${n.host.includes(':') ? `[${n.host}]` : n.host}:${n.port}`).join(',')}`;
  }
  try {
    const u = new URL(target.url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable REDIS_URL)';
  }
}
