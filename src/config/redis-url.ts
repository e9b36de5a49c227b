// REDIS_URL, read once: a single Redis (`redis://`, `rediss://` for TLS) or a Redis Cluster
// (`redis+cluster://host:port,host:port…`, `rediss+cluster://…` for TLS). A cluster needs its own client
// (ioredis' Cluster follows MOVED/ASK and failovers); a single-node client pointed at a cluster node that
// does not own the prefix's slot gets `MOVED` for every command and does nothing. The URL names the seed
// nodes only: the client learns the rest (and every failover) from CLUSTER SLOTS.
// Pure, so the env schema can report a bad URL before anything connects.

export type RedisTarget =
  | { mode: 'standalone'; url: string; tls: boolean }
  | {
      mode: 'cluster';
      tls: boolean;
      nodes: { host: string; port: number }[];
      username?: string;
      password?: string;
    };

export type ParsedRedisUrl = { target: RedisTarget } | { problem: string };

const CLUSTER = /^(rediss?)\+cluster:\/\/(?:([^@/\s]*)@)?([^@/\s]+?)\/?$/;
const STANDALONE = /^rediss?:\/\/[^\s]+$/;

export const REDIS_URL_FORMS =
  'redis://host:6379, rediss://host:6380 (TLS), or for a Redis Cluster redis+cluster://host:6379[,host:6379…] (rediss+cluster:// for TLS)';

export function parseRedisUrl(url: string): ParsedRedisUrl {
  const cluster = CLUSTER.exec(url);
  if (!cluster) {
    if (url.includes('+cluster://'))
      return { problem: `a cluster URL lists host:port seed nodes: ${REDIS_URL_FORMS}` };
    return STANDALONE.test(url)
      ? { target: { mode: 'standalone', url, tls: url.startsWith('rediss://') } }
      : { problem: `a URL like ${REDIS_URL_FORMS}` };
  }
  const [, scheme, userinfo, hostList] = cluster as unknown as [string, string, string | undefined, string];
  const nodes: { host: string; port: number }[] = [];
  for (const entry of hostList.split(',')) {
    // host:port, [v6]:port
    const node = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(entry.trim());
    const port = Number(node?.[2]);
    if (!node?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
      return {
        problem: `"${entry}" is not host:port (a cluster URL lists its seed nodes: ${REDIS_URL_FORMS})`,
      };
    }
    nodes.push({ host: node[1].replace(/^\[|\]$/g, ''), port });
  }
  const [user, password] = userinfo === undefined ? [] : splitUserinfo(userinfo);
  return {
    target: {
      mode: 'cluster',
      tls: scheme === 'rediss',
      nodes,
      ...(user ? { username: user } : {}),
      ...(password ? { password } : {}),
    },
  };
}

function splitUserinfo(userinfo: string): [string, string | undefined] {
  const at = userinfo.indexOf(':');
  const decode = (s: string) => decodeURIComponent(s);
  return at < 0
    ? [decode(userinfo), undefined]
    : [decode(userinfo.slice(0, at)), decode(userinfo.slice(at + 1))];
}

/**
 * Whether REDIS_PREFIX carries a hash tag as Redis reads one (the first `{`, the first `}` after it, not
 * empty), so every key we and BullMQ write, all starting with the prefix, hashes to one slot.
 */
export function hasHashTag(prefix: string): boolean {
  const open = prefix.indexOf('{');
  return open >= 0 && prefix.indexOf('}', open + 1) > open + 1;
}
