// A real Redis Cluster of one test file's own: 3 masters and 3 replicas (six `redis-server
// --cluster-enabled yes` processes on free loopback ports, joined by `redis-cli --cluster create
// --cluster-replicas 1`), so failover is Redis's own: a killed master's replica is promoted after
// `cluster-node-timeout` (1 s here). Not part of the shared platform: only the cluster test files pay for
// it, and each may kill nodes. Same persistence and eviction flags as the platform's Redis (redis.ts).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { pollUntil } from '../support/poll.js';
import { freePort, type ManagedProcess, startProcess } from './processes.js';
import { ping } from './redis.js';

export interface ClusterNodeInfo {
  port: number;
  role: 'master' | 'replica';
}

export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:<port>` with this one seed node (the client discovers the rest). */
  url(seedPort: number): string;
  /** Ports of the nodes still running. */
  ports(): number[];
  /** The port of the master serving the slot `key` hashes to (asks the cluster, not a cache). */
  masterFor(key: string): Promise<number>;
  /** A running master that does not serve `key`'s slot (a client pointed there gets MOVED). */
  masterNotServing(key: string): Promise<number>;
  /**
   * Waits until `masterPort`'s replica has everything the master had when asked (replication is
   * asynchronous: a test that kills a master right after a write would otherwise test a data loss).
   */
  replicaCaughtUp(masterPort: number): Promise<void>;
  /** SIGKILL, no goodbye: as a crashed host. */
  kill(port: number): Promise<void>;
  /** Waits until the cluster is whole again (after a failover) and returns `key`'s master. */
  healthy(key: string, timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

const run = promisify(execFile);
const NODE_TIMEOUT_MS = 1_000;

async function onNode<T>(port: number, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await work(redis);
  } finally {
    redis.disconnect();
  }
}

export async function startRedisCluster(name = 'cluster'): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), `eks-access-${name}-`));
  const nodes = new Map<number, ManagedProcess>();
  const stop = async () => {
    for (const node of nodes.values()) await node.stop();
    nodes.clear();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      // The bus port is allocated too (not port + 10000, which may be taken or past 65535).
      const [port, busPort] = [await freePort(), await freePort()];
      const server = startProcess(
        `${name}-${port}`,
        'redis-server',
        // biome-ignore format: flag/value pairs read best one per line
        ['--bind', '127.0.0.1', '--port', `${port}`, '--cluster-port', `${busPort}`,
          '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
          '--cluster-node-timeout', `${NODE_TIMEOUT_MS}`,
          // A replica may always take over, however long its master has been silent.
          '--cluster-replica-validity-factor', '0',
          '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
          '--dir', dir, '--daemonize', 'no'],
        { logDir: dir },
      );
      nodes.set(port, server);
    }
    for (const [port, server] of nodes) {
      await pollUntil(
        `${server.name} PING`,
        async () => (server.exitStatus() ? 'exited' : (await ping(port)) ? 'up' : 'down'),
        (s) => s !== 'down',
        { timeoutMs: 20_000 },
      ).then((s) => {
        if (s === 'exited') throw new Error(`${server.name} exited; see ${server.logFile}`);
      });
    }
    await run('redis-cli', [
      '--cluster',
      'create',
      ...[...nodes.keys()].map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas',
      '1',
      '--cluster-yes',
    ]);
  } catch (error) {
    await stop();
    throw error;
  }

  const roles = async (): Promise<ClusterNodeInfo[]> =>
    Promise.all(
      [...nodes.keys()].map(async (port) => {
        const info = await onNode(port, (r) => r.info('replication'));
        return { port, role: /role:master/.test(info) ? ('master' as const) : ('replica' as const) };
      }),
    );

  const cluster: RedisCluster = {
    url: (seedPort) => `redis+cluster://127.0.0.1:${seedPort}`,
    ports: () => [...nodes.keys()],
    async masterFor(key) {
      const seed = [...nodes.keys()][0] as number;
      return onNode(seed, async (r) => {
        const slot = (await r.cluster('KEYSLOT', key)) as number;
        const ranges = await r.cluster('SLOTS');
        const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
        if (!master) throw new Error(`slot ${slot} is not served`);
        return master[1];
      });
    },
    async masterNotServing(key) {
      const owner = await cluster.masterFor(key);
      const other = (await roles()).find((n) => n.role === 'master' && n.port !== owner);
      if (!other) throw new Error('no other master');
      return other.port;
    },
    async replicaCaughtUp(masterPort) {
      const info = await onNode(masterPort, (r) => r.info('replication'));
      const target = Number(/master_repl_offset:(\d+)/.exec(info)?.[1]);
      await pollUntil(
        `the replica of ${masterPort} at offset ${target}`,
        async () => {
          const now = await onNode(masterPort, (r) => r.info('replication'));
          return Number(/slave0:.*offset=(\d+)/.exec(now)?.[1] ?? -1);
        },
        (offset) => offset >= target,
        { timeoutMs: 10_000, intervalMs: 50 },
      );
    },
    async kill(port) {
      const node = nodes.get(port);
      if (!node) throw new Error(`no node on ${port}`);
      process.kill(-node.pid, 'SIGKILL');
      await pollUntil(
        `node ${port} gone`,
        async () => node.exitStatus(),
        (s) => s !== undefined,
      );
      nodes.delete(port);
    },
    async healthy(key, timeoutMs = 30_000) {
      // A killed master still looks fine to the others for cluster-node-timeout: healthy means every
      // running node says ok *and* the slot is served by a running node.
      const served = await pollUntil(
        `every running node at cluster_state:ok, ${key}'s slot served by a running node`,
        async () => {
          const infos = await Promise.all(
            [...nodes.keys()].map((p) =>
              onNode(p, (r) => r.cluster('INFO') as Promise<string>).catch(() => ''),
            ),
          );
          const owner = await cluster.masterFor(key).catch(() => undefined);
          return infos.every((i) => i.includes('cluster_state:ok')) && owner && nodes.has(owner) ? owner : 0;
        },
        (owner) => owner > 0,
        { timeoutMs, intervalMs: 100 },
      );
      return served;
    },
    stop,
  };
  try {
    // Replicas in sync too, so a master killed later has a replica that holds its data.
    await cluster.healthy('{x}');
    await pollUntil(
      'every replica linked to its master',
      async () => {
        const infos = await Promise.all(
          [...nodes.keys()].map((p) => onNode(p, (r) => r.info('replication'))),
        );
        return infos.filter((i) => /role:slave/.test(i) && /master_link_status:up/.test(i)).length;
      },
      (linked) => linked === 3,
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return cluster;
}
