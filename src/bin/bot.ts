// The Slack-facing bot: Bolt (Socket Mode by default, HTTP optional) over the shared runtime.
// SIGTERM/SIGINT: stop taking Slack traffic, then close the runtime (queues, Redis).
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { App } from '@slack/bolt';
import type { AwsCredentials } from '../adapters/aws/eks-token.js';
import { type HealthServer, startHealthServer } from '../adapters/http/health-server.js';
import { identityResolverFor } from '../adapters/identity/aws-identity.js';
import type { Logger } from '../adapters/logger.js';
import {
  createMetrics,
  instrumentNotifier,
  type Metrics,
  trackAuditArchive,
  trackRedisDataLoss,
} from '../adapters/metrics.js';
import { type SlackOutbox, slackOutbox } from '../adapters/queue/slack-outbox.js';
import type { RedisClient } from '../adapters/redis/connection.js';
import { createSlackApp } from '../adapters/slack/app.js';
import { slackClient } from '../adapters/slack/client.js';
import { SlackDirectory } from '../adapters/slack/directory.js';
import { SlackNotifier } from '../adapters/slack/notifier.js';
import type { EngineOps } from '../bot/deps.js';
import type { Env } from '../config/env.js';
import { missingSlackSettings } from '../config/env.js';
import { parseEnv } from '../config/load.js';
import type { Policy } from '../config/policy.js';
import type { Clock } from '../domain/clock.js';
import type { SealKeys } from '../domain/seal.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { GrantStore } from '../ports/grant-store.js';
import type { AwsIdentityResolver } from '../ports/identity.js';
import type { Locks } from '../ports/lock.js';
import type { Scheduler } from '../ports/scheduler.js';
import { endGrant } from '../shared/end-grant.js';
import { type ApiRuntime, startApiFor } from './api-runtime.js';
import { createSharedRuntime, type SharedRuntime } from './shared-runtime.js';
import { stopOnSignals } from './signals.js';

/** What the bot needs from the shared runtime (bin/engine-runtime.ts builds it for bot and worker). */
export interface BotRuntime {
  env: Env;
  policy: Policy;
  logger: Logger;
  clock: Clock;
  store: GrantStore;
  audit: AuditLog;
  scheduler: Scheduler;
  engine: EngineOps;
  /** Serialises read-then-write checks across bots (break-glass rate limits). */
  locks: Locks;
  /** Seals approved decisions (the worker checks the seal before it writes). */
  seal: SealKeys;
  /** Defaults to the policy map, plus the IAM user tag lookup when the policy enables it. */
  identity?: AwsIdentityResolver;
  /** Base AWS credentials for that lookup (tests); the SDK's default chain when omitted. */
  awsCredentials?: AwsCredentials;
  /** For the Slack outbox (durable notifications); without it they go out directly, best-effort. */
  redis?: RedisClient;
  /** How the API's verifier reaches STS (tests: through the platform's AWS gateway). */
  stsAgent?: NonNullable<ApiRuntime['stsAgent']>;
}

export interface RunningBot {
  app: App;
  slackNotifier: SlackNotifier;
  /** Where grant notifications go when the runtime has Redis. */
  outbox?: SlackOutbox;
  /** The HTTP port in HTTP mode. */
  port?: number;
  /** The API's port, when the policy enables it (docs/api.md). */
  apiPort?: number;
  stop(): Promise<void>;
}

/** Refuses to start without the Slack settings the transport needs, naming each and the manifest. */
export function assertSlackSettings(env: Env): void {
  const missing = missingSlackSettings(env);
  if (missing.length === 0) return;
  throw new Error(
    `eks-access cannot connect to Slack; missing:\n${missing.map((m) => `  - ${m}`).join('\n')}\n` +
      'Create the Slack app from slack-manifest.yml (api.slack.com/apps → From an app manifest), install it, ' +
      'and put the tokens in .env.',
  );
}

export async function startBot(
  runtime: BotRuntime,
  options: { port?: number; metrics?: Metrics; apiPort?: number } = {},
): Promise<RunningBot> {
  const { env, logger } = runtime;
  assertSlackSettings(env);
  const client = slackClient(env);
  const directory = new SlackDirectory(client, runtime.clock);
  const notifierDeps = {
    policy: runtime.policy,
    store: runtime.store,
    clock: runtime.clock,
    logger,
    directory,
    audit: runtime.audit,
  };
  // Interactive replies go out directly (slackNotifier); grant notifications through the outbox.
  const slackNotifier = new SlackNotifier({ ...notifierDeps, client });
  const outbox = runtime.redis ? slackOutbox(env, { ...notifierDeps, redis: runtime.redis }) : undefined;
  const { metrics } = options;
  if (outbox && metrics) outbox.trackUndelivered((step) => metrics.slackUndelivered.inc({ step }));
  const reporting = outbox ?? slackNotifier;
  const flow = {
    ...runtime,
    identity: runtime.identity ?? identityResolverFor(runtime.policy, env, runtime.awsCredentials),
    directory,
    notifier: options.metrics ? instrumentNotifier(reporting, options.metrics) : reporting,
    slackNotifier,
    randomBytes: (n: number) => randomBytes(n),
    logger,
  };
  const app = createSlackApp(env, flow);
  // The API runs the same use cases on the same dependencies as the Slack listeners.
  const api = await startApiFor(runtime, flow, options.apiPort);
  let port: number | undefined;
  if (env.SLACK_TRANSPORT === 'http') {
    const server = (await app.start(options.port ?? env.PORT)) as unknown as {
      address(): { port: number } | string | null;
    };
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : (options.port ?? env.PORT);
    logger.info({ port }, 'eks-access bot listening for Slack over HTTP on /slack/events');
  } else {
    await app.start();
    logger.info('eks-access bot connected to Slack (Socket Mode)');
  }
  return {
    app,
    slackNotifier,
    ...(outbox ? { outbox } : {}),
    ...(port === undefined ? {} : { port }),
    ...(api ? { apiPort: api.port } : {}),
    stop: async () => {
      await api?.close();
      await app.stop();
      await outbox?.close();
    },
  };
}

/**
 * Readiness of the Slack side: the token still works (auth.test), asked at most every 30 s so probes
 * never eat into Slack's rate limits.
 */
function slackReachable(app: App, clock: Clock): () => Promise<void> {
  let checkedAt = Number.NEGATIVE_INFINITY;
  return async () => {
    if (clock.now() - checkedAt < 30_000) return;
    const answer = await app.client.auth.test();
    if (!answer.ok) throw new Error(`Slack auth.test: ${answer.error ?? 'not ok'}`);
    checkedAt = clock.now();
  };
}

export interface RunningBotProcess extends RunningBot {
  metrics: Metrics;
  /** Absent when started with health: false. */
  health?: HealthServer;
  close(): Promise<void>;
}

/**
 * The bot role on a runtime; `main` and `npm run dev` (with health: false) both start it this way.
 * It takes the shared runtime only: RedisClient and the queues. Every write to a cluster or IAM happens in
 * the worker, which the bot reaches by queueing a job.
 */
export async function startBotProcess(
  runtime: SharedRuntime,
  options: { health?: boolean; port?: number } = {},
): Promise<RunningBotProcess> {
  const engine: EngineOps = {
    endGrant: (id, reason, actor, note) => endGrant(runtime, id, reason, actor, note),
  };
  const metrics = createMetrics({
    // Counted from the status index: reading every active grant on each scrape held them all in memory.
    activeGrants: () => runtime.store.countByStatus('active'),
  });
  // The bot keeps no bootstrap state in Redis: on data loss it only logs and counts (the worker sweeps).
  trackRedisDataLoss(metrics, runtime.epoch);
  trackAuditArchive(metrics, runtime.audit);
  const bot = await startBot(
    { ...runtime, engine },
    { metrics, ...(options.port === undefined ? {} : { port: options.port }) },
  );
  const health =
    options.health === false
      ? undefined
      : await startHealthServer({
          port: runtime.env.METRICS_PORT,
          registry: metrics.registry,
          logger: runtime.logger,
          checks: {
            redis: async () => {
              await runtime.redis.ping();
            },
            slack: slackReachable(bot.app, runtime.clock),
          },
        });
  return {
    ...bot,
    metrics,
    ...(health ? { health } : {}),
    close: async () => {
      await health?.close();
      await bot.stop();
    },
  };
}

export async function main(_argv: readonly string[] = []): Promise<number> {
  const env = parseEnv(process.env);
  // Checked before anything connects, so a missing token is the first and only complaint.
  assertSlackSettings(env);
  const runtime = await createSharedRuntime(env, { role: 'bot' });
  const bot = await startBotProcess(runtime);
  stopOnSignals(runtime.logger, async () => {
    await bot.close();
    await runtime.close();
  });
  return new Promise<number>(() => {});
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
