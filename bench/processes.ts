// Memory of the built entry points, as they run in production: `node <flags> dist/bin/entrypoint.js worker`
// and `… bot` (the bot against the fake Slack over HTTP), spawned against the test platform with the
// image's and the Deployments' node flags (figures.ts, productionNodeArgs). RSS idle
// each; then the worker with N live grants (active in Redis, each with its sealed RoleBinding on the
// cluster) and one reconcile pass over them: its time (the job's processedOn → finishedOn) and RSS.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { reuseConnections } from '../src/adapters/k8s/keep-alive.js';
import { QUEUES } from '../src/adapters/queue/queues.js';
import { createRuntime } from '../src/bin/engine-runtime.js';
import { parseEnv, parsePolicy } from '../src/config/load.js';
import { planGrant } from '../src/domain/plan.js';
import { sealedRoleBinding } from '../src/engine/sealed-bindings.js';
import type { PlatformInfo } from '../test/platform/info.js';
import { spawnGroup, stopGroup } from '../test/platform/processes.js';
import { archiveEnv } from '../test/support/archive.js';
import { activeBenchGrant } from '../test/support/grants.js';
import { TEST_SEAL_KEYS } from '../test/support/seal.js';
import { FakeSlack } from '../test/support/slack/index.js';
import { FIGURES_FILE, type MemoryFigures, median, productionNodeArgs, type Role } from './figures.js';
import { until } from './stats.js';

export interface ProcessMemoryResult {
  node: string;
  bot: { idleRss: number; nodeArgs: string[] };
  worker: { idleRss: number; nodeArgs: string[] };
  loaded: {
    grants: number;
    seedMs: number;
    /** Worker RSS with the grants stored and bound, before the pass. */
    rssBefore: number;
    passMs: number;
    peakRss: number;
    rssAfter: number;
  };
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Resident set size of a process now (kB in /proc → bytes). */
function rss(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** RSS once it settles: the lowest of a few samples a second apart after `waitMs` of idling. */
async function idleRss(pid: number, waitMs = 5000): Promise<number> {
  await new Promise((r) => setTimeout(r, waitMs));
  let lowest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 4; i++) {
    lowest = Math.min(lowest, rss(pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  return lowest;
}

interface Spawned {
  child: ChildProcess;
  nodeArgs: string[];
  pid: number;
  stop(): Promise<void>;
}

async function spawnRole(role: Role, env: Record<string, string>, healthPort: number) {
  // A process group of its own that dies with the bench (spawnGroup): an aborted bench leaves no role running.
  // Node's flags as in production (the Dockerfile's and the Deployment's NODE_OPTIONS), or
  // BENCH_NODE_ARGS instead, e.g. BENCH_NODE_ARGS=--max-semi-space-size=2 to see what a V8 setting is worth.
  const benchArgs = process.env['BENCH_NODE_ARGS'];
  const nodeArgs =
    benchArgs === undefined ? productionNodeArgs(role) : benchArgs.split(/\s+/).filter(Boolean);
  const child = spawnGroup(process.execPath, [...nodeArgs, 'dist/bin/entrypoint.js', role], {
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      NODE_ENV: 'production',
      ...env,
    },
    stdio: ['ignore', process.env['BENCH_CHILD_LOG'] ? 'inherit' : 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await until(
    `${role} /healthz`,
    async () => {
      if (child.exitCode !== null) throw new Error(`${role} exited ${child.exitCode}: ${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${healthPort}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      return ok ? true : undefined;
    },
    60_000,
    200,
  );
  return {
    child,
    pid: child.pid as number,
    nodeArgs,
    async stop() {
      await stopGroup(child, 'SIGTERM');
      await exited;
    },
  } satisfies Spawned;
}

export async function processMemory(
  info: PlatformInfo,
  options: { grants: number; build: boolean },
): Promise<ProcessMemoryResult> {
  if (options.build) execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
  const tag = randomBytes(3).toString('hex');
  const cluster = `bench-proc-${tag}`;
  const namespace = `bench-proc-${tag}`;
  const prefix = `{bench-proc-${tag}}`;
  const dir = mkdtempSync(join(tmpdir(), 'eks-access-bench-'));
  const policyText = `
settings: { auditChannel: C0AUDIT }
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
      - name: ${namespace}
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVALS
        levels: [view]
`;
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, policyText);
  const loaded = parsePolicy(policyText, policyFile);
  const common = {
    REDIS_URL: info.redisUrl,
    REDIS_PREFIX: prefix,
    SEAL_KEYS: TEST_SEAL_KEYS,
    ...archiveEnv(info.aws, prefix),
    POLICY_FILE: policyFile,
    LOG_LEVEL: process.env['BENCH_CHILD_LOG'] ?? 'warn',
    RECONCILE_INTERVAL: '1h',
  };
  const admin = reuseConnections(new KubeConfig());
  admin.loadFromFile(info.kube.adminKubeconfig);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  const slack = await FakeSlack.start({ users: [{ id: 'U0APPROVER', name: 'approver' }] });
  const runtime = await createRuntime(parseEnv(common), { role: 'bot', loaded });
  const running: Spawned[] = [];
  try {
    const botHealth = await freePort();
    const bot = await spawnRole(
      'bot',
      {
        ...common,
        SLACK_BOT_TOKEN: slack.botToken,
        SLACK_SIGNING_SECRET: `secret-${randomBytes(8).toString('hex')}`,
        SLACK_TRANSPORT: 'http',
        SLACK_API_URL: slack.apiUrl,
        PORT: String(await freePort()),
        METRICS_PORT: String(botHealth),
      },
      botHealth,
    );
    running.push(bot);
    const botIdle = await idleRss(bot.pid);
    await bot.stop();
    running.pop();

    const workerHealth = await freePort();
    const worker = await spawnRole('worker', { ...common, METRICS_PORT: String(workerHealth) }, workerHealth);
    running.push(worker);
    const workerIdle = await idleRss(worker.pid);

    // N live grants: active in Redis, each with the sealed RoleBinding the worker would have written.
    const seeded = performance.now();
    const now = runtime.clock.now();
    const seal = { seal: runtime.seal };
    for (let i = 0; i < options.grants; i += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, options.grants - i) }, async (_, j) => {
          const grant = activeBenchGrant(i + j, { accountId: info.aws.accountId, cluster, namespace, now });
          await runtime.store.create(grant);
          const plan = planGrant({ policy: loaded.policy, grant, expiresAt: grant.expiresAt as number });
          await rbac.createNamespacedRoleBinding({ namespace, body: sealedRoleBinding(seal, plan) });
        }),
      );
    }
    const seedMs = performance.now() - seeded;
    const rssBefore = await idleRss(worker.pid, 2000);

    let peakRss = rssBefore;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rss(worker.pid));
    }, 50);
    // Kept when complete (the queue's default removes it) so its processedOn/finishedOn can be read.
    const job = await runtime.scheduler
      .queue(QUEUES.reconcile)
      .add('reconcile', { grantId: '' }, { removeOnComplete: false });
    const done = await until(
      'the reconcile pass',
      async () => {
        const state = await job.getState();
        if (process.env['BENCH_CHILD_LOG']) console.error('reconcile job', job.id, state);
        if (state === 'failed') throw new Error('the reconcile job failed');
        if (state !== 'completed') return undefined;
        return runtime.scheduler.queue(QUEUES.reconcile).getJob(job.id as string);
      },
      300_000,
      process.env['BENCH_CHILD_LOG'] ? 2000 : 50,
    );
    clearInterval(sampler);
    const passMs = (done?.finishedOn ?? 0) - (done?.processedOn ?? 0);
    const rssAfter = await idleRss(worker.pid, 2000);
    return {
      node: process.version,
      bot: { idleRss: botIdle, nodeArgs: bot.nodeArgs },
      worker: { idleRss: workerIdle, nodeArgs: worker.nodeArgs },
      loaded: { grants: options.grants, seedMs, rssBefore, passMs, peakRss, rssAfter },
    };
  } finally {
    for (const p of running) await p.stop();
    const keys = await runtime.redis.keys(`${prefix}*`);
    for (let i = 0; i < keys.length; i += 500) await runtime.redis.del(...keys.slice(i, i + 500));
    await runtime.close();
    await slack.close();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    // Gone before the next run starts: a worker's first sweep would otherwise list these 10 000 bindings
    // and its "idle" RSS would carry them (seen: 206 → 272 MB between two runs).
    await until(
      `namespace ${namespace} deleted`,
      () =>
        core.readNamespace({ name: namespace }).then(
          () => undefined,
          () => true,
        ),
      180_000,
      500,
    ).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

export function printProcessMemory(r: ProcessMemoryResult): void {
  console.log(
    `\n## Built entry points (node ${r.worker.nodeArgs.join(' ')} dist/bin/entrypoint.js …, Node ${r.node}), RSS\n`,
  );
  console.log('| process | moment | RSS | goal |');
  console.log('| --- | --- | --- | --- |');
  console.log(`| bot (HTTP, fake Slack) | idle | ${mb(r.bot.idleRss)} | < 100 MB |`);
  console.log(`| worker | idle | ${mb(r.worker.idleRss)} | < 100 MB |`);
  const l = r.loaded;
  console.log(`| worker | ${l.grants} live grants + RoleBindings, before the pass | ${mb(l.rssBefore)} | |`);
  console.log(`| worker | peak during the reconcile pass | ${mb(l.peakRss)} | < 200 MB |`);
  console.log(`| worker | after the pass | ${mb(l.rssAfter)} | |`);
  console.log(
    `\nReconcile pass over ${l.grants} live grants and their RoleBindings: ${(l.passMs / 1000).toFixed(2)} s (goal < 5 s); seeding took ${(l.seedMs / 1000).toFixed(1)} s.`,
  );
}

const MiB = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** The medians of the runs, in MiB, with when, where and with which node flags they were measured. */
export function memoryFigures(runs: readonly ProcessMemoryResult[]): MemoryFigures {
  const first = runs[0];
  if (!first) throw new Error('no runs');
  const cpu = cpus();
  return {
    measured: {
      date: new Date().toISOString().slice(0, 10),
      machine: `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${process.platform}/${process.arch}`,
      node: first.node,
      runs: runs.length,
      nodeArgs: { bot: first.bot.nodeArgs, worker: first.worker.nodeArgs },
    },
    botIdleMiB: MiB(median(runs.map((r) => r.bot.idleRss))),
    workerIdleMiB: MiB(median(runs.map((r) => r.worker.idleRss))),
    reconcilePeakMiB: MiB(median(runs.map((r) => r.loaded.peakRss))),
    reconcileGrants: first.loaded.grants,
  };
}

export function printFigures(f: MemoryFigures, runs: readonly ProcessMemoryResult[]): void {
  const each = (pick: (r: ProcessMemoryResult) => number) => runs.map((r) => MiB(pick(r))).join(', ');
  console.log(`\n## Medians of ${runs.length} runs (MiB, as the chart's requests and limits count)\n`);
  console.log('| figure | median | runs |');
  console.log('| --- | --- | --- |');
  console.log(`| bot idle RSS | ${f.botIdleMiB} MiB | ${each((r) => r.bot.idleRss)} |`);
  console.log(`| worker idle RSS | ${f.workerIdleMiB} MiB | ${each((r) => r.worker.idleRss)} |`);
  console.log(
    `| worker peak RSS, reconcile pass over ${f.reconcileGrants} | ${f.reconcilePeakMiB} MiB | ${each((r) => r.loaded.peakRss)} |`,
  );
  console.log(
    `\nnode flags: bot ${f.measured.nodeArgs.bot.join(' ')}; worker ${f.measured.nodeArgs.worker.join(' ')}`,
  );
}

export function writeFigures(f: MemoryFigures): void {
  writeFileSync(FIGURES_FILE, `${JSON.stringify(f, null, 2)}\n`);
  // In the repository's format, so that `biome check` passes on the committed file as written.
  execFileSync('npx', ['biome', 'format', '--write', FIGURES_FILE], { stdio: 'ignore' });
  console.log(
    `\nwrote ${FIGURES_FILE}: now check the chart against it (npx vitest run --project unit test/unit/memory-limits.test.ts)`,
  );
}
