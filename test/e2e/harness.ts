// One eks-access bot on the test platform: the real Bolt App (Socket Mode or HTTP) against the fake
// Slack, real Redis (a unique key prefix per harness), the real BullMQ scheduler, a policy whose
// cluster is the platform's kube-apiserver. Tests drive it through the fake and read what it recorded.

import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateAccessKeyCommand, CreateRoleCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateUserCommand as CreateIdentityCenterUserCommand,
  IdentitystoreClient,
} from '@aws-sdk/client-identitystore';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { ChainedAuditLog } from '../../src/adapters/audit-trail.js';
import { identityResolverFor } from '../../src/adapters/identity/aws-identity.js';
import { PolicyClusterConnections } from '../../src/adapters/k8s/cluster-connections.js';
import { createLogger } from '../../src/adapters/logger.js';
import { BullScheduler } from '../../src/adapters/queue/bull-scheduler.js';
import { QUEUES } from '../../src/adapters/queue/queues.js';
import {
  OUTBOX_LATER_QUEUE,
  OUTBOX_QUEUE,
  type SlackOutbox,
  slackOutbox,
} from '../../src/adapters/queue/slack-outbox.js';
import { startWorkers } from '../../src/adapters/queue/workers.js';
import { RedisGrantStore } from '../../src/adapters/redis/grant-store.js';
import { RedisLocks } from '../../src/adapters/redis/locks.js';
import { type RunningBot, startBot } from '../../src/bin/bot.js';
import { auditTrailFor, requireArchive } from '../../src/bin/shared-runtime.js';
import type { EngineOps } from '../../src/bot/deps.js';
import { parseEnv, parsePolicy } from '../../src/config/load.js';
import type { Policy } from '../../src/config/policy.js';
import type { AccessPolicyName } from '../../src/domain/access-policies.js';
import { systemClock } from '../../src/domain/clock.js';
import type { Grant } from '../../src/domain/grant.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import type { DurableArchive } from '../../src/ports/archive.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig, awsClientConfig, platform } from '../platform/context.js';
import { archiveEnv } from '../support/archive.js';
import { applyKeptRoles } from '../support/kept-roles.js';
import { pollUntil } from '../support/poll.js';
import { proxyAgent } from '../support/proxy-agent.js';
import { TEST_SEAL_KEYS, testSealKeys } from '../support/seal.js';
import {
  type Block,
  blocksText,
  FakeSlack,
  HTTP_MANIFEST_PATH,
  type Obj,
  type SlackCall,
  sendInteraction,
  sendSlashCommand,
  type View,
} from '../support/slack/index.js';

export const ALICE = 'U0ALICE'; // requester, mapped to an IAM user
export const ANA = 'U0ANA'; // approver by user id
export const BEN = 'U0BEN'; // approver through the user group
export const EVE = 'U0EVE'; // not an approver
export const NOBODY = 'U0NOBODY'; // not mapped to AWS
export const GROUP = 'S0PLATFORM';

export interface HarnessOptions {
  transport?: 'socket' | 'http';
  approvals?: number;
  /** Extra YAML under the namespace entry (autoApprove, …). */
  namespaceExtra?: string;
  pendingTimeout?: string;
  expiryWarning?: string;
  /** settings.setupDeadline (default the policy's 5m). */
  setupDeadline?: string;
  levelDuration?: { default: string; max: string };
  /** Durations of the `view` level (extend mode `approval`); default 1h, at most 2h. */
  viewDuration?: { default: string; max: string };
  /** Create the namespace on the kube-apiserver (and delete it on close). */
  createNamespace?: boolean;
  /** Run the engine's BullMQ workers in-process (activation, expiry, reminders). */
  worker?: boolean;
  /**
   * `aws-auth`: the cluster gets a unique name (its own IAM path in moto), its own aws-auth ConfigMap,
   * and ALICE an IAM user of her own in moto. Default `none` (cluster `dev`).
   */
  identityMapping?: 'none' | 'aws-auth' | 'access-entries';
  /**
   * The cluster is the platform's login cluster (PlatformInfo.login): the EKS cluster whose tokens the
   * real aws-iam-authenticator accepts, in its region, with the real `kube-system/aws-auth` that the
   * authenticator reads. Needs `identityMapping` aws-auth or access-entries. One login harness at a time.
   */
  login?: boolean;
  /**
   * With `login`: whether the worker proves the login before the DM (default true, as production's eks
   * connections). False only to show what the probe is for (test/e2e/login-propagation.test.ts).
   */
  loginProbe?: boolean;
  /**
   * The namespace offers only level `edit`, this EKS access policy (login clusters, access entries), and
   * the cluster's connection carries no Kubernetes credentials at all: the API server's address and CA
   * only (the worker never calls Kubernetes as itself there; the login probe logs in as the person).
   */
  accessPolicy?: AccessPolicyName;
  /** A second cluster `staging` (us-west-2) whose only namespace offers only `view` (the request form). */
  secondCluster?: boolean;
  /** With `secondCluster`: `staging` offers the main namespace itself (a request on both clusters). */
  sameNamespaceOnStaging?: boolean;
  /** With `secondCluster`: `staging`'s namespace has an approval channel of its own (`stagingChannel`). */
  separateStagingChannel?: boolean;
  /** Turn on the policy's Slack email → IAM user tag lookup (tag key `slack-email`). */
  emailTag?: boolean;
  /**
   * ALICE signs in through IAM Identity Center (needs `identityMapping` aws-auth or access-entries): no
   * map entry; an identity store of the harness's own in moto with her user (her Slack email), and
   * the permission set's `AWSReservedSSO_…` role, which (standing in for SAML) trusts her IAM user.
   */
  identityCenter?: boolean;
  /** The policy's `settings.windows` as a YAML flow mapping, e.g. `{ reminder: 15s }`. */
  windows?: string;
  /** Top-level policy YAML appended as is (e.g. `breakGlass:` rules); `{namespace}` is replaced. */
  policyExtra?: string;
  /** YAML under the policy's top-level `tickets:` (ticket systems by name). */
  tickets?: string;
  /**
   * The API for `kubectl eks-access` (policy `api.enabled`), on a free port (`bot.apiPort`); its verifier
   * reaches STS through the platform's AWS gateway.
   */
  api?: boolean;
  /** More Slack user groups (id → members) besides GROUP (whose only member is BEN). */
  usergroups?: Record<string, string[]>;
  /**
   * This many more namespaces on the main cluster (`<namespace>-n000`…, level `view`, not created on the
   * apiserver): past 100 the request form searches them.
   */
  extraNamespaces?: number;
}

export interface Harness {
  slack: FakeSlack;
  redis: Redis;
  prefix: string;
  channel: string;
  namespace: string;
  policy: Policy;
  store: RedisGrantStore;
  /** The chained trail (Redis stream, archive, and the stdout lines in `auditLines`). */
  audit: ChainedAuditLog;
  auditLines: string[];
  archive: DurableArchive;
  scheduler: BullScheduler;
  bot: RunningBot;
  /** The engine's notifications (the in-process worker's outbox; the bot has its own consumer). */
  outbox: SlackOutbox;
  signingSecret: string;
  /** The policy's name for the harness's main cluster (`dev`, or unique for aws-auth). */
  cluster: string;
  /** ALICE's AWS principal as the policy maps it (with `identityCenter`: her session ARN). */
  aliceArn: string;
  /** With `identityCenter`: the permission-set role and ALICE's user name (her session's name). */
  identityCenter?: { roleArn: string; permissionSet: string; userName: string };
  /** With `secondCluster`: the namespace on `staging`. */
  stagingNamespace: string;
  /** With `secondCluster`: the approval channel of `staging`'s namespace (`channel` unless separate). */
  stagingChannel: string;
  /** With `identityMapping: aws-auth`: where this harness's aws-auth ConfigMap lives. */
  awsAuth: { namespace: string; name: string };
  /** With `login` (and a mapping): the IAM user the in-process worker acts as. */
  workerArn?: string;
  /** Sends a slash command the way the transport does; resolves with the ack (or HTTP response). */
  command(user: string, text: string): Promise<{ status: number; body: Obj | undefined }>;
  /** Sends an interactivity payload (block_actions, view_submission). */
  interact(payload: Obj): Promise<{ status: number; body: Obj | undefined }>;
  /** The approval message of a grant as it stands now in the fake. */
  approvalMessage(grantId: string): Promise<{ channel: string; ts: string }>;
  /**
   * Every key under this harness's prefix, with grant values: "nothing changed" is equality of this.
   * Taken once the queues have settled (see `settled`), so work still finishing from an earlier step
   * (an outbox delivery recording the approval message's ts, a job's audit entry and bookkeeping) is
   * not mistaken for a change made by the step under test.
   */
  snapshot(): Promise<Record<string, string>>;
  /**
   * Resolves once no Slack delivery and (with `worker`) no engine job is waiting or running. Delayed
   * jobs (expiry, reminders, retries after a 429) wait for their moment and do not count.
   */
  settled(): Promise<void>;
  /** The grants in this harness's namespaces (see grants() below for why only those). */
  grants(): Promise<Grant[]>;
  /** The roles the in-process worker could not prove revoked, once per failed proof (as its metric counts). */
  revocationsUnproven: readonly string[];
  close(): Promise<void>;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const info = platform();
  const tag = randomBytes(4).toString('hex');
  const prefix = `{e2e-${tag}}:`;
  const channel = `C${tag.toUpperCase()}`;
  const namespace = `e2e-${tag}`;
  const approvals = options.approvals ?? 1;
  const level = options.levelDuration ?? { default: '1h', max: '4h' };
  const view = options.viewDuration ?? { default: '1h', max: '2h' };
  const mapping = options.identityMapping ?? 'none';
  const login = options.login === true;
  const cluster = login ? info.login.clusterName : mapping === 'none' ? 'dev' : `dev-${tag}`;
  const region = login ? info.login.region : 'eu-west-1';
  const stagingNamespace = options.sameNamespaceOnStaging ? namespace : `${namespace}-stg`;
  const stagingChannel = options.separateStagingChannel ? `${channel}S` : channel;
  const awsAuth = { namespace: 'kube-system', name: login ? 'aws-auth' : `aws-auth-${tag}` };
  const iam = new IAMClient(awsClientConfig('iam'));
  // aws-auth needs a principal that exists in moto (the personal role's trust policy names it).
  const aliceName = mapping === 'none' ? 'alice' : `alice-${tag}`;
  if (mapping !== 'none') await iam.send(new CreateUserCommand({ UserName: aliceName }));
  const aliceUserArn = `arn:aws:iam::${info.aws.accountId}:user/${aliceName}`;
  const center = options.identityCenter
    ? await identityCenterFor(iam, { tag, aliceName, aliceUserArn, email: 'alice@example.com' })
    : undefined;
  const aliceArn = center?.sessionArn ?? aliceUserArn;
  const kubeconfig = `{ kubeconfig: { path: ${JSON.stringify(
    options.accessPolicy ? await credentiallessKubeconfig(tag) : info.kube.adminKubeconfig,
  )} } }`;
  const { policy } = parsePolicy(`
settings:
  # Its own installation: the shared API server holds other files' grants, which this harness leaves alone.
  installation: e2e-${tag}
  pendingTimeout: ${options.pendingTimeout ?? '1h'}
  expiryWarning: ${options.expiryWarning ?? '15m'}
  setupDeadline: ${options.setupDeadline ?? '5m'}
  requireReason: true
  auditChannel: CAUDIT${tag.toUpperCase()}
${options.windows ? `  windows: ${options.windows}\n` : ''}identities:
  map:
${center ? '' : `    ${ALICE}: ${aliceArn}\n`}    ${ANA}: arn:aws:iam::123456789012:user/ana
${options.emailTag ? '  emailTag: { enabled: true }\n' : ''}${center ? `  identityCenter: { enabled: true, region: ${info.aws.region}, identityStoreId: ${center.storeId}, permissionSets: [${center.permissionSet}] }\n` : ''}${options.tickets ? `tickets:\n${options.tickets.replace(/^/gm, '  ')}\n` : ''}levels:
  debug:
    description: Run jobs and read pods
    rules:
      - apiGroups: ["", batch]
        resources: [jobs, pods, pods/log]
        verbs: [create, get, list]
    # Creating jobs and pods is privileged; the quorum is the harness's (explicit, as a policy may).
    privileged: true
    approvals: ${approvals}
    defaultDuration: ${level.default}
    maxDuration: ${level.max}
    extend: { mode: auto, maxTotal: 8h }
  view: { clusterRole: view, defaultDuration: ${view.default}, maxDuration: ${view.max}, extend: { mode: approval } }
${
  options.accessPolicy
    ? `  edit: { accessPolicy: ${options.accessPolicy}, privileged: true, approvals: ${approvals}, defaultDuration: ${level.default}, maxDuration: ${level.max} }
`
    : ''
}clusters:
  ${cluster}:
    region: ${region}
    accountId: "${info.aws.accountId}"
    connection: ${kubeconfig}
    identityMapping: ${mapping}
${login && mapping !== 'none' && options.loginProbe !== false ? '    loginProbe: true\n' : ''}${mapping === 'none' ? '    usernameTemplate: "eks-access:{slackUserId}"\n' : ''}    namespaces:
      - name: ${namespace}
        approvers: { users: [${ANA}], groups: [${GROUP}] }
        approvals: ${approvals}
        channel: ${channel}
        levels: ${options.accessPolicy ? '[edit]' : '[debug, view]'}
${(options.namespaceExtra ?? '').replace(/^/gm, '        ')}
${Array.from(
  { length: options.extraNamespaces ?? 0 },
  (_, i) =>
    `      - name: ${namespace}-n${String(i).padStart(3, '0')}\n        approvers: { users: [${ANA}] }\n        channel: ${channel}\n        levels: [${options.accessPolicy ? 'edit' : 'view'}]\n`,
).join('')}
${
  options.secondCluster
    ? `  staging:
    region: us-west-2
    accountId: "${info.aws.accountId}"
    connection: ${kubeconfig}
    identityMapping: none
    usernameTemplate: "eks-access:{slackUserId}"
    namespaces:
      - name: ${stagingNamespace}
        approvers: { users: [${ANA}] }
        channel: ${stagingChannel}
        levels: [view]
`
    : ''
}${(options.policyExtra ?? '').replaceAll('{namespace}', namespace)}
${options.api ? 'api: { enabled: true }\n' : ''}`);
  const k8s = adminKubeConfig().makeApiClient(CoreV1Api);
  if (options.createNamespace) await k8s.createNamespace({ body: { metadata: { name: namespace } } });
  await applyKeptRoles(adminKubeConfig(), policy);
  if (mapping === 'aws-auth') {
    await k8s
      .createNamespacedConfigMap({
        namespace: awsAuth.namespace,
        body: { metadata: { name: awsAuth.name }, data: { mapRoles: '' } },
      })
      .catch((error: unknown) => {
        // The login cluster's aws-auth outlives a harness (it is the cluster's); ours are unique.
        if (!(login && (error as { code?: number }).code === 409)) throw error;
      });
  }
  const slack = await FakeSlack.start({
    // The app as installed for its transport: HTTP mode declares a request URL per kind of payload.
    ...((options.transport ?? 'socket') === 'http' ? { manifest: HTTP_MANIFEST_PATH } : {}),
    users: [
      { id: ALICE, name: 'alice', email: 'alice@example.com' },
      { id: ANA, name: 'ana' },
      { id: BEN, name: 'ben' },
      { id: EVE, name: 'eve' },
      { id: NOBODY, name: 'nobody', email: 'nobody@example.com' },
    ],
    usergroups: { [GROUP]: [BEN], ...options.usergroups },
    // The approval and audit channels, with the bot invited as the setup guide asks an admin to do.
    channels: { [channel]: {}, [stagingChannel]: {}, [`CAUDIT${tag.toUpperCase()}`]: {} },
  });
  const signingSecret = `secret-${tag}-${randomBytes(8).toString('hex')}`;
  const transport = options.transport ?? 'socket';
  const env = parseEnv({
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_SIGNING_SECRET: signingSecret,
    SLACK_TRANSPORT: transport,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: info.redisUrl,
    REDIS_PREFIX: prefix,
    SEAL_KEYS: TEST_SEAL_KEYS,
    ...archiveEnv(info.aws, prefix),
    LOG_LEVEL: process.env['E2E_LOG_LEVEL'] ?? 'silent',
    AWS_ENDPOINT_URL_IAM: info.aws.iamEndpoint,
    // A login harness's worker meets IAM as the person does: through the gateway, where roles and trusts
    // propagate late and trust policies are enforced (test/platform/iam-propagation.ts).
    AWS_ENDPOINT_URL_STS: login ? info.login.stsEndpoint : info.aws.stsEndpoint,
    AWS_ENDPOINT_URL_EKS: info.aws.eksEndpoint,
    AWS_REGION: info.aws.region,
  });
  const awsCredentials = awsClientConfig('iam').credentials;
  // Where the login is proven, the worker is an IAM user of its own, as in production (a role or a user):
  // its probe's trust statement names it. (The platform's keys are moto's catch-all identity, whose
  // `sts::…:user/moto` ARN no trust policy can name.)
  const workerCredentials = login && mapping !== 'none' ? await workerUser(iam, tag) : awsCredentials;
  // moto serves identitystore on the same endpoint as IAM.
  const identityResolver = identityResolverFor(policy, env, awsCredentials, info.aws.iamEndpoint);
  const logger = createLogger({ level: env.LOG_LEVEL, name: `bot-${tag}` });
  const redis = new Redis(info.redisUrl, { maxRetriesPerRequest: null });
  const store = new RedisGrantStore(redis, prefix);
  // The bot's and the in-process worker's trail, as the processes write it (stdout lines kept here).
  const archive = requireArchive(env, awsCredentials);
  const auditLines: string[] = [];
  const audit = auditTrailFor(env, 'bot', {
    redis,
    archive,
    logger,
    writeLine: (line) => auditLines.push(line),
  });
  const scheduler = new BullScheduler(redis, prefix, systemClock);
  const partial = {
    slack,
    redis,
    prefix,
    channel,
    namespace,
    policy,
    store,
    audit,
    auditLines,
    archive,
    scheduler,
    signingSecret,
    cluster,
    aliceArn,
    ...(center
      ? {
          identityCenter: {
            roleArn: center.roleArn,
            permissionSet: center.permissionSet,
            userName: aliceName,
          },
        }
      : {}),
    stagingNamespace,
    stagingChannel,
    awsAuth,
    ...(workerCredentials !== awsCredentials
      ? { workerArn: `arn:aws:iam::${info.aws.accountId}:user/eks-access-worker-${tag}` }
      : {}),
  };
  // The engine's worker, in-process, reporting through the Slack outbox built like the worker builds it.
  const workerNotifier = slackOutbox(
    env,
    { policy, store, clock: systemClock, logger, audit, redis },
    // Quick retries: a test's 429 storm should settle in seconds.
    { retryBaseMs: 200, homeDebounceMs: 200 },
  );
  const locks = new RedisLocks(redis, prefix);
  const revocationsUnproven: string[] = [];
  const engineDeps: EngineDeps = {
    store,
    audit,
    scheduler,
    notifier: workerNotifier,
    locks,
    clock: systemClock,
    clusters: new PolicyClusterConnections({
      policy,
      env,
      clock: systemClock,
      credentials: workerCredentials,
      awsAuth: { [cluster]: awsAuth },
    }),
    policy,
    logger,
    seal: testSealKeys(),
    identity: identityResolver,
    archive,
    onRevocationUnproven: (roleArn) => revocationsUnproven.push(roleArn),
  };
  const workers = options.worker
    ? await startWorkers(engineDeps, {
        redis,
        prefix,
        scheduler,
        concurrency: 4,
        reconcileEveryMs: 3_600_000,
      })
    : undefined;
  // The bot gets Redis and the queue only, as bin/bot.ts composes it: every cluster write is the worker's.
  const engine: EngineOps = {
    endGrant: (id, reason, actor, note) =>
      endGrant({ store, scheduler, audit, clock: systemClock }, id, reason, actor, note),
  };
  const bot = await startBot(
    {
      env,
      policy,
      logger,
      clock: systemClock,
      store,
      audit,
      scheduler,
      engine,
      awsCredentials,
      seal: testSealKeys(),
      locks,
      redis,
      // Only Identity Center needs the test's identitystore endpoint; every other harness keeps the
      // bot's own resolver, as bin/bot.ts builds it.
      ...(center ? { identity: identityResolver } : {}),
      ...(options.api ? { stsAgent: proxyAgent(info.login.proxyUrl, info.login.caBundle) } : {}),
    },
    { port: 0, ...(options.api ? { apiPort: 0 } : {}) },
  );
  const url = () => `http://127.0.0.1:${bot.port}/slack/events`;
  // The outbox's queue as the bot and the worker share it, to see whether a delivery is under way.
  const outboxQueue = new Queue(OUTBOX_QUEUE, { connection: redis, prefix });
  const busyQueues = [
    outboxQueue,
    ...(workers ? Object.values(QUEUES).map((name) => scheduler.queue(name)) : []),
  ];

  async function deliver(kind: 'slash_commands' | 'interactive', payload: Obj) {
    if (transport === 'socket') {
      const ack = await slack.socket.send(kind, payload);
      return { status: 200, body: ack };
    }
    const response =
      kind === 'slash_commands'
        ? await sendSlashCommand(url(), payload as Record<string, string>, { signingSecret })
        : await sendInteraction(url(), payload, { signingSecret });
    return { status: response.status, body: response.json };
  }

  const harness: Harness = {
    ...partial,
    bot,
    outbox: workerNotifier,
    revocationsUnproven,
    command: (user, text) =>
      deliver(
        'slash_commands',
        slack.slashCommand({ command: '/eks-access', text, user_id: user, channel_id: channel }),
      ),
    interact: (payload) => deliver('interactive', payload),
    async approvalMessage(grantId) {
      const post = await slack.waitFor(
        'chat.postMessage',
        (c) => c.args.channel === channel && JSON.stringify(c.args.blocks ?? []).includes(grantId),
      );
      return { channel, ts: String(post.response['ts']) };
    },
    async settled() {
      await pollUntil(
        'the Slack outbox and the engine queues to settle',
        () => Promise.all(busyQueues.map((q) => q.getJobCounts('waiting', 'active', 'prioritized'))),
        (counts) => counts.every((c) => Object.values(c).every((n) => n === 0)),
        { timeoutMs: 30_000, intervalMs: 25 },
      );
    },
    async snapshot() {
      await harness.settled();
      // Slack delivery bookkeeping (the outbox's queues and done-steps) is not grant state, nor are the
      // processes' own marks (the reconciler's last sweep, the epoch), which a loaded machine may write
      // after the first snapshot of a test.
      const keys = (await redis.keys(`${prefix}*`))
        .filter(
          (k) =>
            !k.startsWith(`${prefix}:reconcile:`) &&
            k !== `${prefix}:epoch` &&
            !k.includes(`:${OUTBOX_QUEUE}:`) &&
            !k.includes(`:${OUTBOX_LATER_QUEUE}:`) &&
            !k.startsWith(`${prefix}outbox:`) &&
            !k.startsWith(`${prefix}lock:outbox-`) &&
            !k.startsWith(`${prefix}lock:approval-message-`),
        )
        .sort();
      const out: Record<string, string> = {};
      for (const key of keys) {
        const type = await redis.type(key);
        if (type === 'string') out[key] = (await redis.get(key)) ?? '';
        else if (type === 'set') out[key] = (await redis.smembers(key)).sort().join(',');
        else if (type === 'stream') out[key] = `stream of ${await redis.xlen(key)}`;
        else out[key] = type;
      }
      return out;
    },
    async grants() {
      const keys = await redis.keys(`${prefix}grant:*`);
      const all = await Promise.all(keys.map(async (k) => JSON.parse((await redis.get(k)) ?? '{}') as Grant));
      // Only this harness's namespaces: the kube-apiserver is shared with the test files running beside
      // this one, all sealing with the run's key, so a reconcile here rightly rebuilds a grant it finds in
      // another file's namespace (as one installation would after losing Redis).
      return all.filter((g) => g.namespace === namespace || g.namespace.startsWith(`${namespace}-`));
    },
    async close() {
      // The workers before what their jobs use: a revocation still proving its refusal (the login probe
      // takes seconds after the person is already refused) ends by notifying, and waited for ever on a
      // notifier closed under it.
      await bot.stop();
      await workers?.close();
      await workerNotifier.close();
      if (options.createNamespace) await k8s.deleteNamespace({ name: namespace }).catch(() => undefined);
      if (mapping === 'aws-auth' && !login)
        await k8s
          .deleteNamespacedConfigMap({ namespace: awsAuth.namespace, name: awsAuth.name })
          .catch(() => undefined);
      iam.destroy();
      await audit.close();
      await outboxQueue.close();
      for (const name of Object.values(QUEUES)) await scheduler.queue(name).close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
      await slack.close();
    },
  };
  return harness;
}

/**
 * The text of an ephemeral reply to `user`: a post to the response_url of one of their interactions
 * (slash commands, message buttons) or a chat.postEphemeral to them.
 */
export async function ephemeralTo(
  slack: FakeSlack,
  user: string,
  after: number,
  match: (text: string) => boolean = () => true,
): Promise<string> {
  const textOf = (args: Obj) => `${String(args['text'] ?? '')}\n${JSON.stringify(args['blocks'] ?? [])}`;
  const call = await Promise.any([
    slack.waitFor('response_url', (c) => c.responseTo?.user === user && match(textOf(c.args)), { after }),
    slack.waitFor('chat.postEphemeral', (c) => c.args.user === user && match(textOf(c.args)), { after }),
  ]);
  return textOf(call.args);
}

/** Harnesses started through `use` are closed by `closeAll` (call it in afterEach). */
export function harnessPool() {
  const open: Harness[] = [];
  return {
    async use(options: HarnessOptions = {}): Promise<Harness> {
      const h = await startHarness(options);
      open.push(h);
      return h;
    },
    async closeAll(): Promise<void> {
      for (const h of open.splice(0)) await h.close();
    },
  };
}

/** Sends a command that creates a request; resolves with the id from the ephemeral reply containing `marker`. */
export async function requestedId(
  h: Harness,
  user: string,
  text: string,
  marker = 'Requested',
): Promise<string> {
  const after = h.slack.calls.length;
  await h.command(user, text);
  const reply = await ephemeralTo(h.slack, user, after, (t) => t.includes(marker));
  const id = /`(ea-[a-z2-9]{8})`/.exec(reply)?.[1];
  if (!id) throw new Error(`no grant id in ${reply}`);
  return id;
}

/**
 * Resolves once the worker has finished every `extend` job (the DM comes from inside the job, a moment
 * before BullMQ's own bookkeeping settles), so a Redis snapshot taken after it is stable.
 */
export async function untilExtendJobsDone(h: Harness): Promise<void> {
  await pollUntil(
    'the worker to finish its extend jobs',
    () => h.scheduler.queue(QUEUES.extend).getJobCounts('active', 'waiting', 'delayed', 'prioritized'),
    (counts) => Object.values(counts).every((n) => n === 0),
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

/** A click on a button of a message the bot posted. */
/**
 * A click on a button of a message; `value` picks one among buttons sharing the action id (the targets
 * of a shared approval message carry their grant ids).
 */
export function clickOn(
  h: Harness,
  user: string,
  action: string,
  message: { channel: string; ts: string },
  value?: string,
) {
  return h.interact(
    h.slack.blockActions({
      user_id: user,
      action_id: action,
      ...(value === undefined ? {} : { value }),
      channel: message.channel,
      message_ts: message.ts,
    }),
  );
}

/**
 * An approver denies one grant from a message: Deny (the target's button where the message is shared),
 * then the reason in the form it opens.
 */
export async function denyFrom(
  h: Harness,
  approver: string,
  message: { channel: string; ts: string },
  grantId: string,
  reason: string,
): Promise<void> {
  const after = h.slack.calls.length;
  await clickOn(h, approver, 'deny', message, grantId);
  const modal = await h.slack.waitFor(
    'views.open',
    (c) => c.args.view.callback_id === 'deny_modal' && JSON.stringify(c.args.view).includes(grantId),
    { after },
  );
  await h.interact(
    h.slack.viewSubmission({
      user_id: approver,
      view_id: String((modal.response['view'] as { id: string }).id),
      values: { reason: { value: { type: 'plain_text_input', value: reason } } },
    }),
  );
}

/**
 * The form `callbackId` the bot showed since `after`: opened as it is (`views.open`), or a placeholder
 * it opened at once and then turned into this form (`views.update`); returns its view id and blocks.
 */
export async function formShown(
  h: Harness,
  how: 'views.open' | 'views.update',
  callbackId: string,
  after: number,
): Promise<{ id: string; blocks: Block[]; view: Record<string, unknown> }> {
  const call = await h.slack.waitFor(
    how,
    (c) => c.response['ok'] === true && c.args.view?.callback_id === callbackId,
    { after },
  );
  const view = call.response['view'] as { id: string; blocks: Block[] } & Record<string, unknown>;
  return { id: view.id, blocks: view.blocks, view };
}

/** The reason typed into a Deny, Flag or Revoke form, as Slack sends it. */
export const reasonValues = (reason: string) => ({
  reason: { value: { type: 'plain_text_input', value: reason } },
});

/**
 * An approver revokes an active grant from its message: Revoke (Slack's confirm answered yes), then
 * the reason in the form it opens.
 */
export async function revokeFrom(
  h: Harness,
  approver: string,
  message: { channel: string; ts: string },
  reason: string,
): Promise<void> {
  const after = h.slack.calls.length;
  await clickOn(h, approver, 'revoke', message);
  const form = await formShown(h, 'views.open', 'revoke_modal', after);
  await h.interact(
    h.slack.viewSubmission({ user_id: approver, view_id: form.id, values: reasonValues(reason) }),
  );
}

/** Resolves once the approval message says the grant is active (the worker activated it). */
export async function untilActive(h: Harness, message: { ts: string }): Promise<void> {
  await h.slack.waitFor(
    'chat.update',
    (c) => c.args.ts === message.ts && blocksText(c.args.blocks).includes('Active* until'),
    { timeoutMs: 30_000 },
  );
}

/** The user opens the bot's Home tab (the app_home_opened event, over Socket Mode). */
export async function openHome(h: Harness, user: string): Promise<void> {
  await h.slack.socket.send(
    'events_api',
    h.slack.eventCallback({ type: 'app_home_opened', user, tab: 'home', channel: `D${user.slice(1)}` }),
  );
}

/** The expiry the engine wrote on a grant's RoleBinding (`eks-access.io/expires-at`), as on the apiserver. */
export async function bindingExpiry(h: Harness, grantId: string): Promise<string | undefined> {
  const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const binding = await rbac.readNamespacedRoleBinding({
    name: `eks-access-${grantId}`,
    namespace: h.namespace,
  });
  return binding.metadata?.annotations?.['eks-access.io/expires-at'];
}

/** The next Home tab published for `user` that satisfies `match`. */
export async function homeWhere(h: Harness, user: string, after: number, match: (text: string) => boolean) {
  const call = (await h.slack.waitFor(
    'views.publish',
    (c) => c.args.user_id === user && match(blocksText(c.args.view.blocks as View['blocks'])),
    { after, timeoutMs: 30_000 },
  )) as SlackCall<'views.publish'>;
  return { id: String((call.response['view'] as View).id), text: blocksText(call.args.view.blocks as never) };
}

/**
 * Resolves once every Slack notification has been delivered (or given up): those queued so far, and
 * those a running engine job is about to queue (a job stores the grant first and announces it last, so
 * the outbox can be empty for a moment while one is still coming).
 */
export async function untilSlackDelivered(h: Harness): Promise<void> {
  await h.settled();
  await pollUntil(
    'the Slack outbox to drain',
    () => h.outbox.pending(),
    (n) => n === 0,
    {
      timeoutMs: 30_000,
      intervalMs: 50,
    },
  );
}

/**
 * A refused click's answer, wherever it goes: an ephemeral reply, a DM (App Home), or for Deny
 * extension (whose form opens before the check, within Slack's 3 s) the form replaced by the reason.
 */
export async function refusalTo(h: Harness, user: string, after: number, words: string): Promise<string> {
  const call = await Promise.any([
    ephemeralTo(h.slack, user, after, (t) => t.includes(words)),
    h.slack
      .waitFor(
        'chat.postMessage',
        (c) => c.args.channel === `D${user.slice(1)}` && blocksText(c.args.blocks).includes(words),
        { after },
      )
      .then((c) => blocksText(c.args.blocks)),
    h.slack
      .waitFor('views.update', (c) => blocksText(c.args.view.blocks as Block[]).includes(words), { after })
      .then((c) => blocksText(c.args.view.blocks as Block[])),
  ]);
  return call;
}

/** Views the app left open as a Deny form after a refused click (a refused form is replaced). */
export function denyFormsLeftOpen(h: Harness, after: number): string[] {
  const calls = h.slack.calls.slice(after);
  return calls
    .filter((c) => c.method === 'views.open' && c.response['ok'] === true)
    .map((c) => String((c.response['view'] as { id: string }).id))
    .filter((viewId) => {
      const now = h.slack.view(viewId);
      return now?.['callback_id'] !== undefined;
    });
}

/**
 * ALICE in IAM Identity Center, as far as moto goes: an identity store of this harness (moto makes one
 * on first use) with her user, named like her IAM user, and the permission set's role under Identity
 * Center's path, whose trust lets her IAM user stand in for her SAML sign-in.
 */
async function identityCenterFor(
  iam: IAMClient,
  who: { tag: string; aliceName: string; aliceUserArn: string; email: string },
): Promise<{ storeId: string; permissionSet: string; roleArn: string; sessionArn: string }> {
  const { aws } = platform();
  const storeId = `d-${randomBytes(5).toString('hex')}`;
  const permissionSet = `EKS${who.tag.replace(/[^A-Za-z0-9]/g, '')}`.slice(0, 32);
  const store = new IdentitystoreClient(awsClientConfig('iam'));
  try {
    await store.send(
      new CreateIdentityCenterUserCommand({
        IdentityStoreId: storeId,
        UserName: who.aliceName,
        DisplayName: 'Alice',
        Name: { GivenName: 'Alice', FamilyName: 'Test' },
        Emails: [{ Value: who.email, Primary: true }],
      }),
    );
  } finally {
    store.destroy();
  }
  const roleName = `AWSReservedSSO_${permissionSet}_${randomBytes(8).toString('hex')}`;
  const role = await iam.send(
    new CreateRoleCommand({
      RoleName: roleName,
      Path: `/aws-reserved/sso.amazonaws.com/${aws.region}/`,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: who.aliceUserArn },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'sts:RoleSessionName': who.aliceName } },
          },
        ],
      }),
    }),
  );
  return {
    storeId,
    permissionSet,
    roleArn: role.Role?.Arn ?? '',
    sessionArn: `arn:aws:sts::${aws.accountId}:assumed-role/${roleName}/${who.aliceName}`,
  };
}

/** A kubeconfig naming the platform's API server and CA, and no credentials whatsoever. */
async function credentiallessKubeconfig(tag: string): Promise<string> {
  const { kube, runDir } = platform();
  const file = join(runDir, `no-credentials-${tag}.kubeconfig`);
  await writeFile(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: login, cluster: { server: "${kube.server}", certificate-authority: "${kube.caFile}" } }]`,
      'users: [{ name: nobody, user: {} }]',
      'contexts: [{ name: login, context: { cluster: login, user: nobody } }]',
      'current-context: login',
      '',
    ].join('\n'),
  );
  return file;
}

/** An IAM user with keys, for the worker of a harness whose logins are proven. */
async function workerUser(
  iam: IAMClient,
  tag: string,
): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const UserName = `eks-access-worker-${tag}`;
  await iam.send(new CreateUserCommand({ UserName }));
  const key = (await iam.send(new CreateAccessKeyCommand({ UserName }))).AccessKey;
  return { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' };
}
