// Memory of a worker process with many grants: RSS and heap after storing 1000 active grants in Redis
// and after a reconcile pass over them (dry run: it reads Redis and the cluster like a real pass, but
// the platform is shared, so it changes nothing).
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createRuntime } from '../src/bin/engine-runtime.js';
import { parseEnv, parsePolicy } from '../src/config/load.js';
import type { PlatformInfo } from '../test/platform/info.js';
import { archiveEnv } from '../test/support/archive.js';
import { activeBenchGrant } from '../test/support/grants.js';
import { TEST_SEAL_KEYS } from '../test/support/seal.js';
import { memory, mib, ms } from './stats.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const settled = () => {
  gc();
  return memory();
};

export interface MemoryResult {
  grants: number;
  baseline: { rss: number; heapUsed: number };
  stored: { rss: number; heapUsed: number; ms: number };
  reconciled: { rss: number; heapUsed: number; ms: number; peakHeap: number };
  redisBytes: number;
}

export async function memoryWithGrants(info: PlatformInfo, grants: number): Promise<MemoryResult> {
  const tag = randomBytes(3).toString('hex');
  const cluster = `bench-mem-${tag}`;
  const loaded = parsePolicy(
    `
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  ${cluster}:
    region: ${info.aws.region}
    accountId: "${info.aws.accountId}"
    connection: { kubeconfig: { path: ${JSON.stringify(info.kube.adminKubeconfig)} } }
    identityMapping: none
    usernameTemplate: "oidc:{iamName}"
    namespaces:
      - name: bench-mem
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVALS
        levels: [view]
`,
    'bench-policy',
  );
  const prefix = `{bench-mem-${tag}}`;
  const env = parseEnv({
    REDIS_URL: info.redisUrl,
    REDIS_PREFIX: prefix,
    SEAL_KEYS: TEST_SEAL_KEYS,
    ...archiveEnv(info.aws, prefix),
    LOG_LEVEL: 'silent',
  });
  const runtime = await createRuntime(env, { role: 'worker', loaded });
  try {
    const baseline = settled();
    const redisBefore = Number(/used_memory:(\d+)/.exec(await runtime.redis.info('memory'))?.[1]);
    let t = performance.now();
    const now = runtime.clock.now();
    for (let i = 0; i < grants; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, grants - i) }, (_, j) => {
          const grant = activeBenchGrant(i + j, {
            accountId: info.aws.accountId,
            cluster,
            namespace: 'bench-mem',
            now,
          });
          return runtime.store.create(grant);
        }),
      );
    }
    const storeMs = performance.now() - t;
    const stored = settled();
    const redisAfter = Number(/used_memory:(\d+)/.exec(await runtime.redis.info('memory'))?.[1]);
    let peakHeap = stored.heapUsed;
    const sampler = setInterval(() => {
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    }, 5);
    t = performance.now();
    const report = await runtime.engine({ grantChanged: async () => {} }).reconcile(true);
    const reconcileMs = performance.now() - t;
    clearInterval(sampler);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    if (report.errors.length > 0) throw new Error(`reconcile errors: ${JSON.stringify(report.errors)}`);
    const reconciled = settled();
    return {
      grants,
      baseline,
      stored: { ...stored, ms: storeMs },
      reconciled: { ...reconciled, ms: reconcileMs, peakHeap },
      redisBytes: redisAfter - redisBefore,
    };
  } finally {
    const keys = await runtime.redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 500) await runtime.redis.del(...keys.slice(i, i + 500));
    await runtime.close();
  }
}

export function printMemory(r: MemoryResult): void {
  console.log(`\n## Memory with ${r.grants} active grants in Redis (worker process, after GC)\n`);
  console.log('| moment | RSS | heap used | time |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| runtime started | ${mib(r.baseline.rss)} | ${mib(r.baseline.heapUsed)} | |`);
  console.log(
    `| ${r.grants} grants stored | ${mib(r.stored.rss)} | ${mib(r.stored.heapUsed)} | ${ms(r.stored.ms)} |`,
  );
  console.log(
    `| after a reconcile pass | ${mib(r.reconciled.rss)} | ${mib(r.reconciled.heapUsed)} (peak ${mib(r.reconciled.peakHeap)}) | ${ms(r.reconciled.ms)} |`,
  );
  console.log(
    `\nRedis used_memory grew by ${mib(r.redisBytes)} (${(r.redisBytes / r.grants).toFixed(0)} bytes per grant).`,
  );
}
