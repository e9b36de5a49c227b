import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/adapters/logger.js';
import { blockingDuplicate, connectRedis, type RedisClient } from '../../src/adapters/redis/connection.js';
import { parseEnv } from '../../src/config/load.js';

// Clients are built lazily and never connect: these tests read the options every node would use.
const opened: RedisClient[] = [];
const lazy = (raw: Record<string, string>) => {
  const client = connectRedis(parseEnv(raw), { lazyConnect: true });
  opened.push(client);
  return client;
};
afterEach(() => {
  for (const client of opened.splice(0)) client.disconnect();
});

describe('connectRedis', () => {
  it('builds a single-node client for redis:// and a cluster client for redis+cluster://', () => {
    expect(lazy({ REDIS_URL: 'redis://127.0.0.1:6379' })).toBeInstanceOf(Redis);
    const cluster = lazy({ REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7001' });
    expect(cluster).toBeInstanceOf(Cluster);
    expect((cluster as Cluster).options.lazyConnect).toBe(true);
  });

  it('gives every cluster node the ACL user, the password and TLS, and no TLS without rediss', () => {
    const tls = lazy({
      REDIS_URL: 'rediss+cluster://cfg.example:6379',
      REDIS_USERNAME: 'eks-access',
      REDIS_PASSWORD: 's3cret-value',
      REDIS_TLS_CA_FILE: 'package.json',
    }) as Cluster;
    const nodes = tls.options.redisOptions ?? {};
    expect(nodes.username).toBe('eks-access');
    expect(nodes.password).toBe('s3cret-value');
    expect(nodes.tls?.ca).toBeInstanceOf(Buffer);
    // Announced names are connected to as they are, so the certificate is checked against them.
    expect(tls.options.dnsLookup).toBeTypeOf('function');
    const plain = lazy({ REDIS_URL: 'redis+cluster://u:from-url@10.0.0.1:7000' }) as Cluster;
    expect(plain.options.redisOptions?.tls).toBeUndefined();
    expect(plain.options.redisOptions?.password).toBe('from-url');
  });

  it('a blocking duplicate (for BullMQ workers) waits for Redis on one node and on a cluster', () => {
    for (const url of ['redis://127.0.0.1:6379', 'redis+cluster://10.0.0.1:7000']) {
      const copy = blockingDuplicate(lazy({ REDIS_URL: url, REDIS_PASSWORD: 'p4ssword-x' }));
      opened.push(copy);
      const options = copy instanceof Cluster ? copy.options.redisOptions : copy.options;
      expect(options?.maxRetriesPerRequest, url).toBeNull();
      expect(options?.password, url).toBe('p4ssword-x');
    }
  });

  it('a cluster URL with a password in it is scrubbed from log lines', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      name: 't',
      destination: { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream,
    });
    logger.warn('could not reach rediss+cluster://eks-access:hunter2-secret@10.0.0.1:7000,10.0.0.2:7000');
    expect(lines.join('')).toContain('10.0.0.1:7000');
    expect(lines.join('')).not.toContain('hunter2-secret');
  });
});
