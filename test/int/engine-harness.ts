// A test's own eks-access engine on the test platform: a unique cluster name (so IAM paths, access
// entries and Redis keys never collide), a unique namespace, its own aws-auth ConfigMap, a real worker
// and a recording notifier. Every test can run twice in a row on the same servers.

import { randomBytes } from 'node:crypto';
import { EKSClient } from '@aws-sdk/client-eks';
import { CreateUserCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { AuthorizationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { PolicyIdentityResolver } from '../../src/adapters/identity/aws-identity.js';
import { type RunningWorkers, startWorkers } from '../../src/adapters/queue/workers.js';
import { createRuntime, type Runtime } from '../../src/bin/engine-runtime.js';
import type { FlowDeps } from '../../src/bot/deps.js';
import { parseEnv, parsePolicy } from '../../src/config/load.js';
import { requiredApprovalsFor } from '../../src/domain/decisions.js';
import type { Grant } from '../../src/domain/grant.js';
import { renderUsername } from '../../src/domain/names.js';
import type { EngineDeps, EngineStep } from '../../src/engine/deps.js';
import type { GrantEvent, Notifier } from '../../src/ports/notifier.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig, awsClientConfig, platform, uniqueName } from '../platform/context.js';
import { archiveEnv } from '../support/archive.js';
import { recordAwsRequests, type SentAwsRequest } from '../support/aws-requests.js';
import { approvedGrant, createEksCluster } from '../support/grants.js';
import { applyKeptRoles } from '../support/kept-roles.js';
import { pollUntil } from '../support/poll.js';
import { TEST_SEAL_KEYS } from '../support/seal.js';

export type Mode = 'aws-auth' | 'access-entries' | 'none';

/** The runbook's k8s-test-role ("describe" dropped: not a verb) and a ClusterRole level. */
const LEVELS = `
levels:
  k8s-test-role:
    rules:
      - apiGroups: ["", "apps", "batch", "extensions"]
        resources: [configmaps, cronjobs, deployments, events, ingresses, jobs, pods,
                    pods/attach, pods/exec, pods/log, pods/portforward, secrets, services]
        verbs: [create, delete, get, list, patch, update]
    privileged: true
    defaultDuration: 1h
    maxDuration: 4h
  view:
    clusterRole: view
    defaultDuration: 1h
    maxDuration: 4h
`;

/** Pre-existing aws-auth content that must survive byte for byte. */
export const ORIGINAL_MAP_ROLES = `- rolearn: arn:aws:iam::123456789012:role/eksctl-nodegroup-NodeInstanceRole
  username: system:node:{{EC2PrivateDNSName}}
  groups:
    - system:bootstrappers
    - system:nodes
# the platform team's admin role
- groups: ["system:masters"]
  rolearn: "arn:aws:iam::123456789012:role/platform-admin"
  username: 'platform-admin'
`;
export const ORIGINAL_AWS_AUTH: Record<string, string> = {
  mapRoles: ORIGINAL_MAP_ROLES,
  mapUsers: '- userarn: arn:aws:iam::123456789012:user/ops\n  username: ops\n  groups: [system:masters]\n',
  mapAccounts: '- "123456789012"\n',
  somethingElse: 'kept: as-is\n',
};

export class RecordingNotifier implements Notifier {
  readonly events: { grantId: string; status: string; event: GrantEvent }[] = [];
  async grantChanged(grant: Grant, event: GrantEvent): Promise<void> {
    this.events.push({ grantId: grant.id, status: grant.status, event });
  }
  kinds(grantId: string): string[] {
    return this.events.filter((e) => e.grantId === grantId).map((e) => e.event.kind);
  }
  /**
   * Resolves once `kind` was announced for the grant (`times` times). The engine notifies last, after
   * the store and the audit trail, so a test that saw the grant's new status waits for this before it
   * reads the audit trail or counts notifications.
   */
  async announced(grantId: string, kind: string, times = 1): Promise<void> {
    await pollUntil(
      `${kind} announced for ${grantId} ${times} time(s)`,
      async () => this.kinds(grantId),
      (kinds) => kinds.filter((k) => k === kind).length >= times,
      { intervalMs: 20 },
    );
  }
}

export interface Harness {
  cluster: string;
  namespace: string;
  mode: Mode;
  awsAuth: { namespace: string; name: string };
  /** REDIS_PREFIX of this engine's keys (a worker process of its own joins with it). */
  prefix: string;
  /** The policy file's text (clusters, levels; no identities: the harness maps people itself). */
  policyText: string;
  runtime: Runtime;
  deps: EngineDeps;
  notifier: RecordingNotifier;
  iam: IAMClient;
  eks: EKSClient;
  core: CoreV1Api;
  /** Every AWS request the engine's clients sent (after signing, so retries count), in order. */
  awsRequests: SentAwsRequest[];
  /** The audit records' JSON lines this runtime wrote (stdout in production). */
  auditLines: string[];
  /** How many `command` requests (e.g. `CreateRoleCommand`) the engine sent, the SDK's retries included. */
  sent(command: string): number;
  /** How many times the engine called `command`: the SDK's own retries of one call count once. */
  called(command: string): number;
  /** Starts a worker (several may run; each is closed by close()). */
  startWorker(options?: {
    afterStep?: EngineDeps['afterStep'];
    lockDuration?: number;
    reconcileEveryMs?: number;
  }): Promise<RunningWorkers>;
  /** A person with an IAM user in moto. */
  person(name?: string): Promise<{ principalArn: string; username: string; slackUserId: string }>;
  /** Stores an approved grant and queues its activation (what the Slack flow does on approval). */
  approve(
    person: { principalArn: string; slackUserId: string },
    options?: {
      durationSeconds?: number;
      level?: string;
      namespace?: string;
      /** The approving bot's clock (default: the runtime's), e.g. to skew it against the worker's. */
      now?: number;
    },
  ): Promise<Grant>;
  waitFor(grantId: string, statuses: readonly string[], timeoutMs?: number): Promise<Grant>;
  allowed(
    username: string,
    verb: string,
    resource: string,
    group: string,
    namespace: string,
  ): Promise<boolean>;
  roleExists(roleName: string): Promise<boolean>;
  close(): Promise<void>;
}

export async function engineHarness(
  mode: Mode,
  options: {
    maxDuration?: string;
    /** Replaces the `view` level's definition (YAML flow mapping), e.g. to set its extend policy. */
    view?: string;
    /** A Redis of the test's own (one it may FLUSHALL or kill) instead of the platform's shared one. */
    redisUrl?: string;
    /** REDIS_PREFIX instead of a unique one (a Redis of the test's own may use the production tag). */
    redisPrefix?: string;
    /** A third level, `custom`, that binds this ClusterRole and is not marked privileged. */
    customClusterRole?: string;
    /** Where the engine (not the harness's own clients) reaches IAM, STS, EKS: e.g. a fault proxy. */
    awsEndpoints?: Partial<Record<'iam' | 'sts' | 'eks', string>>;
    /** The kubeconfig the engine reaches the cluster with (default: the platform's admin one). */
    kubeconfig?: string;
    /** settings.keptRoles; the default (applied-by-admin) has the harness apply them as the platform team. */
    keptRoles?: 'written-by-worker';
    /**
     * The cluster offers only level `edit` (AmazonEKSEditPolicy), in the namespace and in `<namespace>-b`
     * (not created: EKS scopes need no namespace); needs mode access-entries.
     */
    accessPolicy?: boolean;
  } = {},
): Promise<Harness> {
  const p = platform();
  const cluster = uniqueName('c');
  const namespace = uniqueName('test');
  const awsAuth = { namespace: 'kube-system', name: uniqueName('aws-auth') };
  const admin = adminKubeConfig();
  const core = admin.makeApiClient(CoreV1Api);
  const authz = admin.makeApiClient(AuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedConfigMap({
    namespace: awsAuth.namespace,
    body: { metadata: { name: awsAuth.name }, data: ORIGINAL_AWS_AUTH },
  });
  const iam = new IAMClient(awsClientConfig('iam'));
  const eks = new EKSClient(awsClientConfig('eks'));
  if (mode === 'access-entries') {
    await createEksCluster(eks, cluster, p.aws.accountId);
  }
  const maxed = options.maxDuration
    ? LEVELS.replaceAll('maxDuration: 4h', `maxDuration: ${options.maxDuration}`)
    : LEVELS;
  const custom = options.customClusterRole
    ? `  custom: { clusterRole: ${options.customClusterRole}, defaultDuration: 1h, maxDuration: 4h }\n`
    : '';
  const edit = options.accessPolicy
    ? '  edit: { accessPolicy: AmazonEKSEditPolicy, privileged: true, approvals: 1, defaultDuration: 1h, maxDuration: 4h }\n'
    : '';
  const levels = `${options.view ? maxed.replace(/ {2}view:\n(?: {4}.*\n)+/, `  view: ${options.view}\n`) : maxed}${custom}${edit}`;
  const offered = options.accessPolicy ? '[edit]' : `[k8s-test-role, view${custom ? ', custom' : ''}]`;
  const policyText = `
settings:
  # Its own installation: the shared API server holds other files' grants, which this harness leaves alone.
  installation: ${namespace}
  kubernetesUsername: "eks-access:{iamName}"
  auditChannel: C0AUDIT
  expiryWarning: 1s
${options.keptRoles ? `  keptRoles: ${options.keptRoles}\n` : ''}${levels}
clusters:
  ${cluster}:
    region: ${p.aws.region}
    accountId: "${p.aws.accountId}"
    connection:
      kubeconfig: { path: ${JSON.stringify(options.kubeconfig ?? p.kube.adminKubeconfig)} }
    identityMapping: ${mode}
${mode === 'none' ? '    usernameTemplate: "oidc:{iamName}"\n' : ''}    namespaces:
      - name: ${namespace}
        approvers: { users: [U0APPROVER, U0SECOND] }
        channel: C0APPROVALS
        levels: ${offered}
${
  options.accessPolicy
    ? `      - name: ${namespace}-b
        approvers: { users: [U0APPROVER, U0SECOND] }
        channel: C0APPROVALS
        levels: [edit]
`
    : ''
}`;
  const loaded = parsePolicy(policyText, 'test-policy');
  await applyKeptRoles(admin, loaded.policy);
  const approvalsFor = (level: string) => {
    const levelPolicy = loaded.policy.levels[level];
    const ns = loaded.policy.clusters[cluster]?.namespaces[0];
    return levelPolicy && ns ? requiredApprovalsFor(levelPolicy, ns) : 1;
  };
  const redisPrefix = options.redisPrefix ?? `{${uniqueName('ea')}}`;
  const env = parseEnv({
    REDIS_URL: options.redisUrl ?? p.redisUrl,
    REDIS_PREFIX: redisPrefix,
    SEAL_KEYS: TEST_SEAL_KEYS,
    ...archiveEnv(p.aws, redisPrefix),
    LOG_LEVEL: 'silent',
    AWS_ENDPOINT_URL_IAM: options.awsEndpoints?.iam ?? p.aws.iamEndpoint,
    AWS_ENDPOINT_URL_STS: options.awsEndpoints?.sts ?? p.aws.stsEndpoint,
    AWS_ENDPOINT_URL_EKS: options.awsEndpoints?.eks ?? p.aws.eksEndpoint,
  });
  // The policy's own resolver, over a map this harness fills as it creates people (the policy file
  // cannot name them in advance): activation re-checks each requester against it.
  const people: Record<string, string> = {};
  const identity = new PolicyIdentityResolver({
    ...loaded.policy,
    identities: { ...loaded.policy.identities, map: people },
  });
  const awsRequests: SentAwsRequest[] = [];
  const auditLines: string[] = [];
  const runtime = await createRuntime(env, {
    role: 'worker',
    loaded,
    identity,
    awsCredentials: awsClientConfig('iam').credentials,
    awsAuth: { [cluster]: awsAuth },
    instrument: { aws: (_cluster, client) => recordAwsRequests(client, awsRequests) },
    // The audit records' lines, kept here instead of the test's stdout.
    auditLine: (line) => auditLines.push(line),
  });
  const notifier = new RecordingNotifier();
  const deps = runtime.engineDeps(notifier);
  const workers: RunningWorkers[] = [];
  const template = mode === 'none' ? 'oidc:{iamName}' : 'eks-access:{iamName}';

  const harness: Harness = {
    cluster,
    namespace,
    mode,
    awsAuth,
    prefix: env.REDIS_PREFIX,
    policyText,
    runtime,
    deps,
    notifier,
    iam,
    eks,
    awsRequests,
    auditLines,
    sent: (command) => awsRequests.filter((r) => r.command === command).length,
    called: (command) => awsRequests.filter((r) => r.command === command && r.attempt === 1).length,
    core,
    async startWorker(o = {}) {
      const running = await startWorkers(o.afterStep ? { ...deps, afterStep: o.afterStep } : deps, {
        redis: runtime.redis,
        prefix: env.REDIS_PREFIX,
        scheduler: runtime.scheduler,
        concurrency: 50,
        reconcileEveryMs: o.reconcileEveryMs ?? 60_000,
        // As bin/worker.ts composes it: an emptied Redis is noticed and the schedule re-created.
        epoch: runtime.epoch,
        connectionLog: runtime.connectionLog,
        ...(o.lockDuration ? { lockDuration: o.lockDuration, stalledInterval: o.lockDuration } : {}),
      });
      workers.push(running);
      return running;
    },
    async person(name = uniqueName('alice')) {
      await iam.send(new CreateUserCommand({ UserName: name }));
      const principalArn = `arn:aws:iam::${p.aws.accountId}:user/${name}`;
      const slackUserId = `U${randomBytes(5).toString('hex').toUpperCase()}`;
      people[slackUserId] = principalArn;
      return { principalArn, slackUserId, username: renderUsername(template, { principalArn, slackUserId }) };
    },
    async approve(person, o = {}) {
      // Whoever the test approves is linked, as the bot only approves people the identity source knows.
      people[person.slackUserId] ??= person.principalArn;
      const grant = approvedGrant({
        requester: {
          slackUserId: person.slackUserId,
          principalArn: person.principalArn,
          kubernetesUsername: renderUsername(template, person),
        },
        cluster,
        namespace: o.namespace ?? namespace,
        level: o.level ?? 'k8s-test-role',
        durationSeconds: o.durationSeconds ?? 3600,
        reason: 'INC-1 test',
        now: o.now ?? runtime.clock.now(),
        // As many of the namespace's approvers as the level needs (the worker re-checks the quorum).
        approvers: ['U0APPROVER', 'U0SECOND'].slice(0, approvalsFor(o.level ?? 'k8s-test-role')),
      });
      await runtime.store.create(grant);
      await runtime.scheduler.enqueueActivation(grant.id);
      return grant;
    },
    async waitFor(grantId, statuses, timeoutMs = 30_000) {
      const grant = await pollUntil(
        `grant ${grantId} to be ${statuses.join('|')}`,
        () => runtime.store.get(grantId),
        (g) => g !== undefined && statuses.includes(g.status),
        { timeoutMs, intervalMs: 50 },
      );
      return grant as Grant;
    },
    async allowed(username, verb, resource, group, ns) {
      const review = await authz.createSubjectAccessReview({
        body: {
          spec: {
            user: username,
            groups: ['system:authenticated'],
            resourceAttributes: { verb, resource, group, namespace: ns },
          },
        },
      });
      return review.status?.allowed === true;
    },
    async roleExists(roleName) {
      try {
        await iam.send(new GetRoleCommand({ RoleName: roleName }));
        return true;
      } catch (error) {
        if ((error as { name?: string }).name === 'NoSuchEntityException') return false;
        throw error;
      }
    },
    async close() {
      await Promise.all(workers.map((w) => w.close(true)));
      await runtime.close();
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      await core.deleteNamespacedConfigMap({ ...awsAuth }).catch(() => undefined);
    },
  };
  return harness;
}

/**
 * A worker that hangs for ever once it reaches `at` (as a process killed there would: its job never
 * returns); `die()` waits for that, then drops the worker at once (no drain, no lock renewal) and says
 * when. A fresh worker recovers the job through BullMQ's stalled check, after about `lockDuration`
 * (BullMQ's defaults, as in production, when none is given).
 */
export async function workerDyingAfter(
  harness: Harness,
  at: EngineStep,
  options: { lockDuration?: number; reconcileEveryMs?: number },
): Promise<{ die(): Promise<number> }> {
  let reached!: () => void;
  const stopped = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const worker = await harness.startWorker({
    ...options,
    afterStep: async (step) => {
      if (step !== at) return;
      reached();
      await new Promise(() => {});
    },
  });
  return {
    async die() {
      await stopped;
      await worker.close(true);
      return Date.now();
    },
  };
}

/** The Slack flow's dependencies on the harness's Redis; Slack itself (directory, chat) is not involved. */
export function flowDeps(h: Harness): FlowDeps {
  const { runtime } = h;
  return {
    policy: runtime.policy,
    store: runtime.store,
    audit: runtime.audit,
    scheduler: runtime.scheduler,
    notifier: h.notifier,
    directory: {
      groupsOf: async () => [],
      membersOf: async () => [],
      active: async (ids: string[]) => ids,
    } as unknown as FlowDeps['directory'],
    identity: {} as FlowDeps['identity'],
    clock: runtime.clock,
    engine: { endGrant: (id, reason, actor) => endGrant(runtime, id, reason, actor) },
    randomBytes: (n) => randomBytes(n),
    seal: runtime.seal,
    locks: runtime.locks,
  };
}

/** Polls `check` until it returns true, failing with `what` after the deadline. */
export async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  await pollUntil(what, check, (ok) => ok, { timeoutMs });
}

export async function readAwsAuth(h: Harness): Promise<Record<string, string>> {
  const cm = await h.core.readNamespacedConfigMap(h.awsAuth);
  return cm.data ?? {};
}

export type { EngineStep };
