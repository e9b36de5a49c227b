// The burst: N approvals at once on one aws-auth cluster, until every grant is active, then every grant
// ended at once, until every one is gone. Prints total times, grants/s, API calls per grant per server
// and where the time went: CPU seconds of this process (the engine and its client libraries) and of
// each platform server, and the summed latency of the calls to each server.
import { readdirSync, readFileSync } from 'node:fs';
import type { Grant } from '../src/domain/grant.js';
import { ownMappingsFor } from '../src/domain/plan.js';
import { endGrant } from '../src/shared/end-grant.js';
import type { PlatformInfo } from '../test/platform/info.js';
import { type CallLog, cpuSeconds, pidListeningOn, type Server, startBenchEngine } from './bench-engine.js';
import { ms } from './stats.js';

export interface PhaseResult {
  ms: number;
  done: number;
  calls: Record<string, number>;
  servers: Partial<Record<Server, { calls: number; ms: number }>>;
  /** CPU seconds used during the phase, by process. */
  cpu: Record<string, number>;
}

export interface BurstResult {
  grants: number;
  concurrency: number;
  activation: PhaseResult;
  revocation: PhaseResult;
  /** What aws-auth and IAM hold of ours afterwards (both should be empty). */
  leftovers: { mapRoles: string; roles: number };
}

const port = (url: string) => Number(new URL(url).port);

/** The platform's servers by name, for CPU figures (absent when `ss` cannot see them). */
function serverPids(info: PlatformInfo): Record<string, number> {
  const found: Record<string, number> = {};
  const named: [string, string][] = [
    ['kube-apiserver', info.kube.server],
    ['moto (IAM)', info.aws.iamEndpoint],
    ['ministack (EKS)', info.aws.eksEndpoint],
    ['redis', info.redisUrl],
  ];
  for (const [name, url] of named) {
    const pid = pidListeningOn(port(url));
    if (pid && !Object.values(found).includes(pid)) found[name] = pid;
  }
  // etcd serves only kube-apiserver on a port the platform info does not name: the etcd started
  // next to this kube-apiserver (same parent), not another engineer's.
  const apiserver = found['kube-apiserver'];
  const parent = apiserver ? parentOf(apiserver) : undefined;
  const etcd = readdirSync('/proc').find(
    (p) => /^\d+$/.test(p) && commOf(p) === 'etcd' && parentOf(Number(p)) === parent,
  );
  if (etcd) found['etcd'] = Number(etcd);
  return found;
}

function commOf(pid: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]);
  } catch {
    return undefined;
  }
}

async function phase(
  log: CallLog,
  pids: Record<string, number>,
  grants: number,
  run: () => Promise<number>,
): Promise<PhaseResult> {
  log.reset();
  const before = Object.fromEntries(Object.entries(pids).map(([n, pid]) => [n, cpuSeconds(pid)]));
  const self = process.cpuUsage();
  const started = performance.now();
  const done = await run();
  const elapsed = performance.now() - started;
  const used = process.cpuUsage(self);
  const cpu: Record<string, number> = { 'bench process (engine)': (used.user + used.system) / 1e6 };
  for (const [n, pid] of Object.entries(pids)) cpu[n] = cpuSeconds(pid) - (before[n] ?? 0);
  const servers = Object.fromEntries(log.servers);
  const counts = log.reset();
  const calls = Object.fromEntries([...counts].sort().map(([k, v]) => [k, v / grants]));
  return { ms: elapsed, done, calls, servers, cpu };
}

/** Waits for every promise or the deadline; returns how many resolved. */
async function settled(promises: Promise<unknown>[], timeoutMs: number): Promise<number> {
  let done = 0;
  const all = Promise.all(promises.map((p) => p.then(() => done++)));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise((r) => {
    timer = setTimeout(r, timeoutMs);
  });
  await Promise.race([all, deadline]);
  clearTimeout(timer);
  return done;
}

export async function burst(info: PlatformInfo, grants: number, concurrency: number): Promise<BurstResult> {
  const engine = await startBenchEngine(info, 'aws-auth', { concurrency });
  const { runtime, log } = engine;
  try {
    const prepared: Grant[] = [];
    for (let i = 0; i < grants; i += 20) {
      prepared.push(
        ...(await Promise.all(
          Array.from({ length: Math.min(20, grants - i) }, (_, j) =>
            engine.approvedGrantForNewPerson(i + j, 3600),
          ),
        )),
      );
    }
    const pids = serverPids(info);
    const activation = await phase(log, pids, grants, async () => {
      const active = prepared.map((g) => engine.seen(g.id, 'activated'));
      await Promise.all(
        prepared.map(async (g) => {
          await runtime.store.create(g);
          await runtime.scheduler.enqueueActivation(g.id);
        }),
      );
      return settled(active, 120_000);
    });
    const revocation = await phase(log, pids, grants, async () => {
      const ended = prepared.map((g) => engine.seen(g.id, 'ended'));
      await Promise.all(prepared.map((g) => endGrant(runtime, g.id, 'revoked', 'U0APPROVER')));
      return settled(ended, 120_000);
    });
    const backends = await runtime.clusters.forCluster(engine.cluster);
    const mapped = await backends.mapping.list();
    const roles = await backends.iam.listRoles(ownMappingsFor(runtime.policy, engine.cluster).rolePath);
    return {
      grants,
      concurrency,
      activation,
      revocation,
      leftovers: { mapRoles: mapped.map((e) => e.roleArn).join(', '), roles: roles.length },
    };
  } finally {
    await engine.close();
  }
}

export function printBurst(r: BurstResult): void {
  console.log(
    `\n## Burst: ${r.grants} grants approved at once on one aws-auth cluster (worker concurrency ${r.concurrency})\n`,
  );
  console.log('| phase | done | total | grants/s | Kubernetes calls/grant | AWS calls/grant |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  const sum = (calls: Record<string, number>, prefix: string) =>
    Object.entries(calls)
      .filter(([k]) => k.startsWith(prefix))
      .reduce((s, [, v]) => s + v, 0)
      .toFixed(2);
  for (const [name, p] of [
    ['approval → active', r.activation],
    ['ended → gone', r.revocation],
  ] as const) {
    console.log(
      `| ${name} | ${p.done}/${r.grants} | ${ms(p.ms)} | ${((p.done / p.ms) * 1000).toFixed(1)} | ${sum(p.calls, 'k8s')} | ${sum(p.calls, 'aws')} |`,
    );
  }
  for (const [name, p] of [
    ['activation', r.activation],
    ['revocation', r.revocation],
  ] as const) {
    console.log(`\n${name}, calls per grant:`);
    console.log(
      `  ${Object.entries(p.calls)
        .map(([k, v]) => `${k} ×${Number(v.toFixed(2))}`)
        .join(', ')}`,
    );
    console.log(`${name}, where the time went (${ms(p.ms)} wall clock):`);
    for (const [proc, seconds] of Object.entries(p.cpu)) {
      console.log(`  CPU ${proc}: ${seconds.toFixed(2)} s`);
    }
    for (const [server, s] of Object.entries(p.servers)) {
      console.log(
        `  calls to ${server}: ${s.calls}, mean latency ${ms(s.ms / s.calls)}, summed ${ms(s.ms)} (overlapping)`,
      );
    }
  }
  console.log(
    `\nLeft behind: aws-auth entries of ours: ${r.leftovers.mapRoles || 'none'}; personal IAM roles: ${r.leftovers.roles}`,
  );
}
