// One eks-access worker engine on the test platform for a benchmark: its own cluster name, namespace,
// aws-auth ConfigMap and Redis prefix, a real BullMQ worker, and every API call the engine makes
// counted and timed on its way out (Kubernetes per client method, AWS per command after signing).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { EKSClient } from '@aws-sdk/client-eks';
import { CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { FinalizeRequestMiddleware, MiddlewareStack } from '@smithy/types';
import { PolicyIdentityResolver } from '../src/adapters/identity/aws-identity.js';
import { type RunningWorkers, startWorkers } from '../src/adapters/queue/workers.js';
import { createRuntime, type Runtime } from '../src/bin/engine-runtime.js';
import { parseEnv, parsePolicy } from '../src/config/load.js';
import type { Grant } from '../src/domain/grant.js';
import { renderUsername } from '../src/domain/names.js';
import type { Notifier } from '../src/ports/notifier.js';
import type { PlatformInfo } from '../test/platform/info.js';
import { archiveEnv } from '../test/support/archive.js';
import { approvedGrant, createEksCluster } from '../test/support/grants.js';
import { applyKeptRoles } from '../test/support/kept-roles.js';
import { TEST_SEAL_KEYS } from '../test/support/seal.js';

export type Mode = 'aws-auth' | 'access-entries' | 'none';
export type Server = 'kube' | 'iam' | 'eks' | 'sts';

/** Calls counted and timed since the last `reset()`. */
export class CallLog {
  counts = new Map<string, number>();
  /** Per server: calls and the sum of their latencies (overlapping calls each count in full). */
  servers = new Map<Server, { calls: number; ms: number }>();

  reset(): Map<string, number> {
    const counts = this.counts;
    this.counts = new Map();
    this.servers = new Map();
    return counts;
  }

  async time<T>(server: Server, key: string, call: () => Promise<T>): Promise<T> {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const started = performance.now();
    try {
      return await call();
    } finally {
      const s = this.servers.get(server) ?? { calls: 0, ms: 0 };
      s.calls++;
      s.ms += performance.now() - started;
      this.servers.set(server, s);
    }
  }
}

const KUBE_VERBS: Record<string, string> = {
  create: 'POST',
  read: 'GET',
  replace: 'PUT',
  patch: 'PATCH',
  delete: 'DELETE',
  list: 'LIST',
};

/** `createNamespacedRoleBinding` → `POST rolebinding`; `listRoleBindingForAllNamespaces` → `LIST rolebinding`. */
export function kubeCallName(method: string): string {
  const m = /^(create|read|replace|patch|delete|list)(?:Namespaced)?(\w+?)(?:ForAllNamespaces)?$/.exec(
    method,
  );
  if (!m) return method;
  return `${KUBE_VERBS[m[1] as string]} ${(m[2] as string).toLowerCase()}`;
}

/** Times every method call of a generated API client. */
function timedApi<T extends object>(api: T, log: CallLog): T {
  return new Proxy(api, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) =>
        log.time('kube', `k8s ${kubeCallName(property)}`, () => value.apply(target, args));
    },
  });
}

function timeAws(client: IAMClient | EKSClient, server: Server, log: CallLog): void {
  const timed: FinalizeRequestMiddleware<object, object> = (next, context) => (args) =>
    log.time(server, `aws ${String(context.commandName).replace(/Command$/, '')}`, () => next(args));
  (client.middlewareStack as unknown as MiddlewareStack<object, object>).add(timed, {
    step: 'finalizeRequest',
    priority: 'low',
    name: 'benchTiming',
  });
}

export interface BenchEngine {
  cluster: string;
  namespace: string;
  runtime: Runtime;
  log: CallLog;
  /** A new IAM user with its Slack id, known to the identity resolver, and an approved grant for them. */
  approvedGrantForNewPerson(i: number, durationSeconds: number): Promise<Grant>;
  /** Resolves when the notifier sees `kind` for the grant (register before causing it). */
  seen(grantId: string, kind: 'activated' | 'ended'): Promise<number>;
  close(): Promise<void>;
}

export async function startBenchEngine(
  info: PlatformInfo,
  mode: Mode,
  options: { concurrency: number; level?: string },
): Promise<BenchEngine> {
  const tag = randomBytes(3).toString('hex');
  const cluster = `bench-${mode}-${tag}`;
  const namespace = `bench-${tag}`;
  const awsAuth = { namespace: 'kube-system', name: `aws-auth-bench-${tag}` };
  const admin = new KubeConfig();
  admin.loadFromFile(info.kube.adminKubeconfig);
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedConfigMap({
    namespace: awsAuth.namespace,
    body: { metadata: { name: awsAuth.name }, data: { mapRoles: '' } },
  });
  const credentials = { accessKeyId: info.aws.accessKeyId, secretAccessKey: info.aws.secretAccessKey };
  const iam = new IAMClient({ region: info.aws.region, endpoint: info.aws.iamEndpoint, credentials });
  if (mode === 'access-entries') {
    const eks = new EKSClient({ region: info.aws.region, endpoint: info.aws.eksEndpoint, credentials });
    await createEksCluster(eks, cluster, info.aws.accountId);
  }
  const template = mode === 'none' ? 'oidc:{iamName}' : 'eks-access:{iamName}';
  const loaded = parsePolicy(
    `
settings: { kubernetesUsername: "eks-access:{iamName}", auditChannel: C0AUDIT }
levels:
  k8s-test-role:
    rules:
      - apiGroups: ["", "apps", "batch"]
        resources: [configmaps, deployments, jobs, pods, pods/log, services]
        verbs: [create, delete, get, list, patch, update]
    privileged: true
    defaultDuration: 1h
    maxDuration: 4h
clusters:
  ${cluster}:
    region: ${info.aws.region}
    accountId: "${info.aws.accountId}"
    connection: { kubeconfig: { path: ${JSON.stringify(info.kube.adminKubeconfig)} } }
    identityMapping: ${mode}
${mode === 'none' ? `    usernameTemplate: "${template}"\n` : ''}    namespaces:
      - name: ${namespace}
        approvers: { users: [U0APPROVER, U0SECOND] }
        channel: C0APPROVALS
        levels: [k8s-test-role]
`,
    'bench-policy',
  );
  await applyKeptRoles(admin, loaded.policy);
  const env = parseEnv({
    REDIS_URL: info.redisUrl,
    REDIS_PREFIX: `{bench-${tag}}`,
    SEAL_KEYS: TEST_SEAL_KEYS,
    ...archiveEnv(info.aws, `bench-${tag}`),
    LOG_LEVEL: 'silent',
    AWS_ENDPOINT_URL_IAM: info.aws.iamEndpoint,
    AWS_ENDPOINT_URL_STS: info.aws.stsEndpoint,
    AWS_ENDPOINT_URL_EKS: info.aws.eksEndpoint,
  });

  const log = new CallLog();
  // Activation re-checks each requester: the policy's resolver over the people this run creates.
  const people: Record<string, string> = {};
  const runtime = await createRuntime(env, {
    role: 'worker',
    loaded,
    identity: new PolicyIdentityResolver({
      ...loaded.policy,
      identities: { ...loaded.policy.identities, map: people },
    }),
    awsCredentials: credentials,
    awsAuth: { [cluster]: awsAuth },
    instrument: {
      aws: (_cluster, client) => {
        const server = client instanceof IAMClient ? 'iam' : client instanceof EKSClient ? 'eks' : 'sts';
        timeAws(client as IAMClient, server, log);
      },
      kube: (_cluster, kc) => {
        const make = kc.makeApiClient.bind(kc);
        kc.makeApiClient = ((api: never) => timedApi(make(api), log)) as typeof kc.makeApiClient;
      },
    },
  });
  const waiters = new Map<string, (at: number) => void>();
  const notifier: Notifier = {
    grantChanged: async (grant, event) => {
      if (event.kind !== 'activated' && event.kind !== 'ended') return;
      waiters.get(`${grant.id}:${event.kind}`)?.(performance.now());
    },
  };
  const workers: RunningWorkers = await startWorkers(runtime.engineDeps(notifier), {
    redis: runtime.redis,
    prefix: env.REDIS_PREFIX,
    scheduler: runtime.scheduler,
    concurrency: options.concurrency,
    reconcileEveryMs: 3_600_000,
  });

  return {
    cluster,
    namespace,
    runtime,
    log,
    async approvedGrantForNewPerson(i, durationSeconds) {
      const name = `bench-${tag}-${i}`;
      await iam.send(new CreateUserCommand({ UserName: name }));
      const principalArn = `arn:aws:iam::${info.aws.accountId}:user/${name}`;
      const slackUserId = `U${randomBytes(5).toString('hex').toUpperCase()}`;
      people[slackUserId] = principalArn;
      return approvedGrant({
        requester: {
          slackUserId,
          principalArn,
          kubernetesUsername: renderUsername(template, { principalArn, slackUserId }),
        },
        cluster,
        namespace,
        level: options.level ?? 'k8s-test-role',
        durationSeconds,
        reason: 'benchmark',
        now: runtime.clock.now(),
      });
    },
    seen: (grantId, kind) => new Promise<number>((resolve) => waiters.set(`${grantId}:${kind}`, resolve)),
    async close() {
      await workers.close(true);
      await runtime.close();
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      await core.deleteNamespacedConfigMap(awsAuth).catch(() => undefined);
    },
  };
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // utime and stime are fields 14 and 15 of stat; after "pid (comm) " they are at 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The process listening on a local TCP port (the platform's servers), if `ss` can tell. */
export function pidListeningOn(port: number): number | undefined {
  try {
    const out = execFileSync('ss', ['-ltnpH', `sport = :${port}`], { encoding: 'utf8' });
    const pid = /pid=(\d+)/.exec(out)?.[1];
    return pid ? Number(pid) : undefined;
  } catch {
    return undefined;
  }
}
