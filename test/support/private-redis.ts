// A redis-server of one test file's own, for faults the platform's shared Redis must not see (FLUSHALL,
// a killed server). Same flags as the platform's (test/platform/redis.ts); stop() ends it.
import { mkdir, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ManagedProcess } from '../platform/processes.js';
import { startRedis } from '../platform/redis.js';

export interface PrivateRedis {
  url: string;
  stop(): Promise<void>;
}

export async function startPrivateRedis(name: string): Promise<PrivateRedis> {
  const runDir = await mkdtemp(join(tmpdir(), `eks-access-${name}-`));
  await mkdir(join(runDir, 'logs'), { recursive: true });
  const track: ManagedProcess[] = [];
  const url = await startRedis(runDir, track);
  return { url, stop: async () => void (await Promise.all(track.map((p) => p.stop()))) };
}
