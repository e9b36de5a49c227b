// What one grant costs on the test platform, per identity-mapping mode: time from approval to `active`
// and from expiry to gone (the revoke job's SubjectAccessReview says denied), and the API calls each
// takes, counted on the wire: Kubernetes requests through the KubeConfig every client authenticates
// with, AWS requests through SDK middleware (after signing, so retries count).
import { randomBytes } from 'node:crypto';
import { EKSClient } from '@aws-sdk/client-eks';
import { CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { CoreV1Api, KubeConfig, type RequestContext } from '@kubernetes/client-node';
import { PolicyIdentityResolver } from '../src/adapters/identity/aws-identity.js';
import { startWorkers } from '../src/adapters/queue/workers.js';
import { createRuntime } from '../src/bin/runtime.js';
import { parseEnv, parsePolicy } from '../src/config/load.js';
import { renderUsername } from '../src/domain/names.js';
import type { Notifier } from '../src/ports/notifier.js';
import type { PlatformInfo } from '../test/platform/info.js';
import { recordAwsRequests, type SentAwsRequest } from '../test/support/aws-requests.js';
import { approvedGrant, createEksCluster } from '../test/support/grants.js';
import { TEST_SEAL_KEYS } from '../test/support/seal.js';
import { ms, percentile } from './stats.js';

export type Mode = 'aws-auth' | 'access-entries' | 'none';

const RESOURCES = [
  'subjectaccessreviews',
  'rolebindings',
  'roles',
  'clusterroles',
  'configmaps',
  'namespaces',
];

/** `GET rolebindings`: the verb and the resource a Kubernetes request touches. */
function kubeCall(context: RequestContext): string {
  const segments = new URL(context.getUrl()).pathname.split('/');
  const resource = [...segments].reverse().find((s) => RESOURCES.includes(s)) ?? segments.at(-1);
  return `${context.getHttpMethod()} ${resource}`;
}

export interface ModeResult {
  mode: Mode;
  grants: number;
  activation: { p50: number; p95: number; calls: Record<string, number> };
  revocation: { p50: number; p95: number; calls: Record<string, number> };
}

export async function grantCost(info: PlatformInfo, mode: Mode, grants: number): Promise<ModeResult> {
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
  const env = parseEnv({
    REDIS_URL: info.redisUrl,
    REDIS_PREFIX: `{bench-${tag}}`,
    LOG_LEVEL: 'silent',
    AWS_ENDPOINT_URL_IAM: info.aws.iamEndpoint,
    AWS_ENDPOINT_URL_STS: info.aws.stsEndpoint,
    AWS_ENDPOINT_URL_EKS: info.aws.eksEndpoint,
  });

  // Counted calls go to whichever phase is running; grants run one at a time.
  let calls = new Map<string, number>();
  const count = (key: string) => calls.set(key, (calls.get(key) ?? 0) + 1);
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
        const sent: SentAwsRequest[] = [];
        recordAwsRequests(
          client,
          new Proxy(sent, {
            get: (t, p) =>
              p === 'push'
                ? (s: SentAwsRequest) => count(`aws ${s.command.replace(/Command$/, '')}`)
                : Reflect.get(t, p),
          }),
        );
      },
      kube: (_cluster, kc) => {
        const apply = kc.applySecurityAuthentication.bind(kc);
        kc.applySecurityAuthentication = async (context) => {
          count(`k8s ${kubeCall(context)}`);
          return apply(context);
        };
      },
    },
  });
  const moments = new Map<string, { activated?: number; ended?: number }>();
  const waiters = new Map<string, () => void>();
  const notifier: Notifier = {
    grantChanged: async (grant, event) => {
      if (event.kind !== 'activated' && event.kind !== 'ended') return;
      const m = moments.get(grant.id) ?? {};
      m[event.kind] = performance.now();
      moments.set(grant.id, m);
      waiters.get(`${grant.id}:${event.kind}`)?.();
    },
  };
  const seen = (grantId: string, kind: 'activated' | 'ended') =>
    new Promise<void>((resolve) => waiters.set(`${grantId}:${kind}`, resolve));
  const deps = runtime.engineDeps(notifier);
  const workers = await startWorkers(deps, {
    redis: runtime.redis,
    prefix: env.REDIS_PREFIX,
    scheduler: runtime.scheduler,
    concurrency: 10,
    reconcileEveryMs: 3_600_000,
  });

  const activation: number[] = [];
  const revocation: number[] = [];
  const activationCalls: Map<string, number>[] = [];
  const revocationCalls: Map<string, number>[] = [];
  try {
    for (let i = 0; i < grants; i++) {
      const name = `bench-${tag}-${i}`;
      await iam.send(new CreateUserCommand({ UserName: name }));
      const principalArn = `arn:aws:iam::${info.aws.accountId}:user/${name}`;
      const slackUserId = `U${randomBytes(5).toString('hex').toUpperCase()}`;
      people[slackUserId] = principalArn;
      const grant = approvedGrant({
        requester: {
          slackUserId,
          principalArn,
          kubernetesUsername: renderUsername(template, { principalArn, slackUserId }),
        },
        cluster,
        namespace,
        level: 'k8s-test-role',
        durationSeconds: 2,
        reason: 'benchmark',
        now: runtime.clock.now(),
      });
      calls = new Map();
      activationCalls.push(calls);
      const active = seen(grant.id, 'activated');
      const approvedAt = performance.now();
      await runtime.store.create(grant);
      await runtime.scheduler.enqueueActivation(grant.id);
      await active;
      activation.push((moments.get(grant.id)?.activated ?? 0) - approvedAt);
      calls = new Map();
      revocationCalls.push(calls);
      const stored = await runtime.store.get(grant.id);
      const ended = seen(grant.id, 'ended');
      await ended;
      // expiresAt is wall-clock; the notification moment is on the same clock via timeOrigin.
      const endedWall = performance.timeOrigin + (moments.get(grant.id)?.ended ?? 0);
      revocation.push(endedWall - (stored?.expiresAt ?? 0));
    }
  } finally {
    await workers.close(true);
    await runtime.close();
    await core.deleteNamespace({ name: namespace }).catch(() => undefined);
    await core.deleteNamespacedConfigMap(awsAuth).catch(() => undefined);
  }
  return {
    mode,
    grants,
    activation: {
      p50: percentile(activation, 50),
      p95: percentile(activation, 95),
      calls: median(activationCalls),
    },
    revocation: {
      p50: percentile(revocation, 50),
      p95: percentile(revocation, 95),
      calls: median(revocationCalls),
    },
  };
}

/** Per call kind, the median count over grants (grants after the first are alike; the median says so). */
function median(perGrant: readonly Map<string, number>[]): Record<string, number> {
  const keys = new Set(perGrant.flatMap((m) => [...m.keys()]));
  return Object.fromEntries(
    [...keys].sort().map((k) => [
      k,
      percentile(
        perGrant.map((m) => m.get(k) ?? 0),
        50,
      ),
    ]),
  );
}

export function printGrantCost(results: readonly ModeResult[]): void {
  console.log('\n## Grant cost (one grant at a time, first grant of each person, 2 s duration)\n');
  console.log(
    '| mode | grants | approval → active p50 / p95 | expiry → gone p50 / p95 | API calls: activation | API calls: revocation |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  const total = (c: Record<string, number>, prefix: string) =>
    Object.entries(c)
      .filter(([k]) => k.startsWith(prefix))
      .reduce((sum, [, v]) => sum + v, 0);
  for (const r of results) {
    const calls = (c: Record<string, number>) => `${total(c, 'k8s')} Kubernetes + ${total(c, 'aws')} AWS`;
    console.log(
      `| ${r.mode} | ${r.grants} | ${ms(r.activation.p50)} / ${ms(r.activation.p95)} | ${ms(r.revocation.p50)} / ${ms(r.revocation.p95)} | ${calls(r.activation.calls)} | ${calls(r.revocation.calls)} |`,
    );
  }
  for (const r of results) {
    console.log(`\n${r.mode}, per grant (median):`);
    for (const phase of ['activation', 'revocation'] as const) {
      const c = r[phase].calls;
      console.log(
        `  ${phase}: ${Object.entries(c)
          .map(([k, v]) => `${k} ×${v}`)
          .join(', ')}`,
      );
    }
  }
}
