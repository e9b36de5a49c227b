// eks-access as it is deployed, in-process, on the test platform: any number of bot processes (Bolt in
// HTTP mode, each on its own port) and worker processes (the real `startWorker` composition with its
// health server), all sharing one Redis prefix, one policy, one namespace on the kube-apiserver and one
// fake Slack. The ops tests (scale-out, metrics) drive it through signed Slack requests.

import { randomBytes } from 'node:crypto';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { createLogger } from '../../src/adapters/logger.js';
import type { Metrics } from '../../src/adapters/metrics.js';
import { type RunningBot, startBotProcess } from '../../src/bin/bot.js';
import { createRuntime, type SharedRuntime } from '../../src/bin/engine-runtime.js';
import { type RunningWorker, startWorker } from '../../src/bin/worker.js';
import { parseEnv, parsePolicy } from '../../src/config/load.js';
import { GRANT_STATUSES, type Grant } from '../../src/domain/grant.js';
import { LABELS, MANAGED_BY, MANAGED_BY_LABEL } from '../../src/domain/names.js';
import { adminKubeConfig, awsClientConfig, platform } from '../platform/context.js';
import { archiveEnv } from '../support/archive.js';
import { applyKeptRoles } from '../support/kept-roles.js';
import { pollUntil } from '../support/poll.js';
import { TEST_SEAL_KEYS } from '../support/seal.js';
import { FakeSlack, type Obj, sendInteraction, sendSlashCommand } from '../support/slack/index.js';

export const APPROVERS = ['U0ANA', 'U0BEN'] as const;

export interface StackOptions {
  /** Requesters (Slack ids), each mapped to its own IAM user. */
  requesters: readonly string[];
  /** The debug level's default and maximum duration. */
  duration?: { default: string; max: string };
  /** Worker RECONCILE_INTERVAL. */
  reconcileInterval?: string;
  /** REDIS_URL of every process (default: the platform's Redis), e.g. a Redis Cluster of the test's own. */
  redisUrl?: string;
}

export interface BotProcess {
  bot: RunningBot;
  metrics: Metrics;
  metricsPort: number;
  command(user: string, text: string): Promise<number>;
  interact(payload: Obj): Promise<number>;
  close(): Promise<void>;
}

export interface Stack {
  tag: string;
  prefix: string;
  namespace: string;
  channel: string;
  auditChannel: string;
  slack: FakeSlack;
  /** A runtime of our own for reading Redis (store, audit) the way the processes see it. */
  reader: SharedRuntime;
  env(extra?: Record<string, string>): ReturnType<typeof parseEnv>;
  startBot(): Promise<BotProcess>;
  startWorker(extra?: Record<string, string>): Promise<RunningWorker>;
  /** Our RoleBindings in the namespace, by grant id. */
  bindings(): Promise<Map<string, number>>;
  /** Polls `read` until `done` says yes, or fails naming `what` after `timeoutMs`. */
  until<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs?: number): Promise<T>;
  /** The grants in this stack's namespace (see grants() below for why only those). */
  grants(): Promise<Grant[]>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const info = platform();
  const tag = randomBytes(4).toString('hex');
  const prefix = `{ops-${tag}}`;
  const namespace = `ops-${tag}`;
  const channel = `C${tag.toUpperCase()}`;
  const auditChannel = `CAUDIT${tag.toUpperCase()}`;
  const duration = options.duration ?? { default: '1h', max: '4h' };
  const loaded = parsePolicy(`
settings:
  # Its own installation: the shared API server holds other files' grants, which this stack leaves alone.
  installation: ops-${tag}
  pendingTimeout: 1h
  expiryWarning: 1m
  requireReason: true
  auditChannel: ${auditChannel}
identities:
  map:
${options.requesters.map((id) => `    ${id}: arn:aws:iam::123456789012:user/${id.toLowerCase()}`).join('\n')}
levels:
  debug:
    description: Run jobs and read pods
    rules:
      - apiGroups: ["", batch]
        resources: [jobs, pods, pods/log]
        verbs: [create, get, list]
    # Creating jobs and pods is privileged; one approval is this stack's explicit choice.
    privileged: true
    approvals: 1
    defaultDuration: ${duration.default}
    maxDuration: ${duration.max}
clusters:
  dev:
    region: eu-west-1
    accountId: "123456789012"
    connection: { kubeconfig: { path: ${JSON.stringify(info.kube.adminKubeconfig)} } }
    identityMapping: none
    usernameTemplate: "eks-access:{slackUserId}"
    namespaces:
      - name: ${namespace}
        approvers: { users: [${APPROVERS.join(', ')}] }
        approvals: 1
        channel: ${channel}
        levels: [debug]
`);
  const core = adminKubeConfig().makeApiClient(CoreV1Api);
  const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await applyKeptRoles(adminKubeConfig(), loaded.policy);
  const slack = await FakeSlack.start({
    users: [...options.requesters, ...APPROVERS].map((id) => ({ id, name: id.toLowerCase() })),
    channels: { [channel]: {}, [auditChannel]: {} },
    // These scenarios count Slack calls (one post per transition of each of a dozen concurrent grants
    // on two bots); how the outbox meets Slack's limits is test/e2e/slack-limits.test.ts's subject.
    rateLimits: { off: 'counts one Slack call per transition of concurrent grants across processes' },
  });
  const signingSecret = `secret-${tag}-${randomBytes(8).toString('hex')}`;
  const env = (extra: Record<string, string> = {}) =>
    parseEnv({
      SLACK_BOT_TOKEN: slack.botToken,
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_TRANSPORT: 'http',
      SLACK_API_URL: slack.apiUrl,
      REDIS_URL: options.redisUrl ?? info.redisUrl,
      REDIS_PREFIX: prefix,
      SEAL_KEYS: TEST_SEAL_KEYS,
      ...archiveEnv(info.aws, prefix),
      LOG_LEVEL: process.env['E2E_LOG_LEVEL'] ?? 'silent',
      METRICS_PORT: '0',
      RECONCILE_INTERVAL: options.reconcileInterval ?? '1h',
      WORKER_CONCURRENCY: '4',
      ...extra,
    });
  const optionsFor = (role: string, extra: Record<string, string>) => {
    const e = env(extra);
    return { e, loaded, logger: createLogger({ level: e.LOG_LEVEL, name: `${role}-${tag}` }) };
  };
  // Each role composed as its bin/ entry point composes it: the bot without cluster clients.
  const botRuntime = (extra: Record<string, string> = {}) => {
    const { e, ...o } = optionsFor('bot', extra);
    return createRuntime(e, { role: 'bot', ...o });
  };
  const workerRuntime = (extra: Record<string, string> = {}) => {
    const { e, ...o } = optionsFor('worker', extra);
    // The worker writes the spent ledger in the archive (moto's S3) from its first start.
    return createRuntime(e, { role: 'worker', awsCredentials: awsClientConfig('iam').credentials, ...o });
  };
  const reader = await botRuntime();
  const closers: (() => Promise<void>)[] = [];

  async function startBot(): Promise<BotProcess> {
    // Exactly as bin/bot.ts main composes it (METRICS_PORT 0: any free port).
    const runtime = await botRuntime({ METRICS_PORT: '0' });
    const bot = await startBotProcess(runtime, { port: 0 });
    const { metrics } = bot;
    const health = bot.health as NonNullable<typeof bot.health>;
    const url = `http://127.0.0.1:${bot.port}/slack/events`;
    const process: BotProcess = {
      bot,
      metrics,
      metricsPort: health.port,
      command: async (user, text) =>
        (
          await sendSlashCommand(
            url,
            slack.slashCommand({ command: '/eks-access', text, user_id: user, channel_id: channel }),
            { signingSecret },
          )
        ).status,
      interact: async (payload) => (await sendInteraction(url, payload, { signingSecret })).status,
      close: async () => {
        await bot.close();
        await runtime.close();
      },
    };
    closers.push(process.close);
    return process;
  }

  async function startWorkerProcess(extra: Record<string, string> = {}): Promise<RunningWorker> {
    const worker = await startWorker(await workerRuntime(extra));
    closers.push(worker.close);
    return worker;
  }

  async function until<T>(
    what: string,
    read: () => Promise<T>,
    done: (value: T) => boolean,
    timeoutMs = 30_000,
  ): Promise<T> {
    return pollUntil(what, read, done, { timeoutMs });
  }

  return {
    tag,
    prefix,
    namespace,
    channel,
    auditChannel,
    slack,
    reader,
    env,
    startBot,
    startWorker: startWorkerProcess,
    until,
    async bindings() {
      const list = await rbac.listNamespacedRoleBinding({
        namespace,
        labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      });
      const counts = new Map<string, number>();
      for (const rb of list.items) {
        const id = rb.metadata?.labels?.[LABELS.grantId] ?? rb.metadata?.name ?? '?';
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      return counts;
    },
    async grants() {
      // Only this stack's namespace: the kube-apiserver is shared by the test files running beside this
      // one, all sealing with the run's key, so this stack's reconciler rightly rebuilds a grant it finds
      // in another file's namespace (as one installation would after losing Redis).
      return (await reader.store.listByStatus(GRANT_STATUSES)).filter((g) => g.namespace === namespace);
    },
    async close() {
      // Workers and bots first (they drain), then our data: keys under the prefix, the namespace.
      for (const close of closers.splice(0).reverse()) await close().catch(() => undefined);
      const keys = await reader.redis.keys(`${prefix}*`);
      if (keys.length > 0) await reader.redis.del(...keys);
      await reader.close();
      await core.deleteNamespace({ name: namespace }).catch(() => undefined);
      await slack.close();
    },
  };
}
