// A redis-server of one test file's own, for faults the platform's shared Redis must not see (FLUSHALL,
// a killed server). Same flags as the platform's (test/platform/redis.ts); `stop()` kills it and
// `start()` brings it back on the same port: empty (as a failover or a restart without persistence), or
// with its data when started with `persist` (a restart from its append-only file).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, type ManagedProcess, startProcess } from '../platform/processes.js';
import { pollUntil } from './poll.js';

export interface PrivateRedis {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** `persist`: an append-only file (fsync every second), so a restart brings the data back. */
export async function startPrivateRedis(
  name: string,
  { persist = false }: { persist?: boolean } = {},
): Promise<PrivateRedis> {
  const dir = await mkdtemp(join(tmpdir(), `eks-access-${name}-`));
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ManagedProcess | undefined;
  const redis: PrivateRedis = {
    url,
    async start() {
      server = startProcess(
        `redis-${name}`,
        'redis-server',
        // biome-ignore format: flag/value pairs read best one per line
        ['--bind', '127.0.0.1', '--port', `${port}`, '--save', '', '--appendonly', persist ? 'yes' : 'no',
          '--maxmemory-policy', 'noeviction', '--dir', dir, '--daemonize', 'no'],
        { logDir: dir },
      );
      await pollUntil(
        `redis-server on ${port}`,
        () => answers(url),
        (ok) => ok,
        { timeoutMs: 20_000 },
      );
    },
    async stop() {
      await server?.stop();
      server = undefined;
    },
  };
  await redis.start();
  return redis;
}
