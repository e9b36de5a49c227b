// Starts the whole test platform (Redis, Kubernetes, moto, ministack) in a fresh temporary run directory
// and returns what tests need to reach it plus a stop function. Components start concurrently; anything
// not installed fails with the command that installs it.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startAws } from './aws.js';
import type { PlatformInfo } from './info.js';
import { startKube } from './kube.js';
import { retryOnPortClash, stopAllProcesses } from './processes.js';
import { startRedis } from './redis.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function cacheDir(): string {
  return process.env['EKS_ACCESS_PLATFORM_CACHE'] ?? join(homedir(), '.cache', 'eks-access-platform');
}

/** Where build-k8s.sh keeps the binaries of the pinned versions; fails with a hint if they are not built. */
async function kubeBinDir(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('bash', [
      join(repoRoot, 'scripts/platform/build-k8s.sh'),
      '--check',
    ]);
    return stdout.trim();
  } catch (error) {
    throw new Error(((error as { stderr?: string }).stderr ?? String(error)).trim());
  }
}

export interface RunningPlatform {
  info: PlatformInfo;
  stop(): Promise<void>;
}

export async function startPlatform(): Promise<RunningPlatform> {
  const runDir = await mkdtemp(join(tmpdir(), 'eks-access-platform-'));
  await mkdir(join(runDir, 'logs'));
  const stop = async () => {
    await stopAllProcesses();
    if (process.env['EKS_ACCESS_PLATFORM_KEEP'] !== '1') await rm(runDir, { recursive: true, force: true });
  };
  try {
    const binDir = await kubeBinDir();
    const [redis, kube, aws] = await Promise.allSettled([
      retryOnPortClash((track) => startRedis(runDir, track)),
      retryOnPortClash((track) => startKube(runDir, binDir, track)),
      retryOnPortClash((track) => startAws(runDir, join(cacheDir(), 'venv'), track)),
    ]);
    if (redis.status === 'fulfilled' && kube.status === 'fulfilled' && aws.status === 'fulfilled') {
      return { info: { redisUrl: redis.value, kube: kube.value, aws: aws.value, runDir }, stop };
    }
    const failures = [redis, kube, aws].flatMap((r) =>
      r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : [],
    );
    throw new Error(`the test platform did not start:\n- ${failures.join('\n- ')}`);
  } catch (error) {
    await stop();
    throw error;
  }
}
