// The worker: activation, revocation at expiry, reminders and the reconciler on BullMQ.
// SIGTERM/SIGINT: stop taking jobs, let running ones finish, close queues and Redis.
import { pathToFileURL } from 'node:url';
import { renderBarChart } from '../adapters/chart/bar-chart.js';
import { type HealthServer, startHealthServer } from '../adapters/http/health-server.js';
import {
  createMetrics,
  instrumentNotifier,
  instrumentWorker,
  type Metrics,
  recordReconcile,
  trackAuditArchive,
  trackReconciler,
  trackRedisDataLoss,
} from '../adapters/metrics.js';
import { SlackOutbox, slackOutbox } from '../adapters/queue/slack-outbox.js';
import { startWeeklySummaryJob, type WeeklySummaryJob } from '../adapters/queue/weekly-summary-job.js';
import { type RunningWorkers, startWorkers } from '../adapters/queue/workers.js';
import { slackClient } from '../adapters/slack/client.js';
import { SlackSummaryPublisher } from '../adapters/slack/summary-publisher.js';
import { parseEnv } from '../config/load.js';
import { parseDuration } from '../domain/duration.js';
import type { Notifier } from '../ports/notifier.js';
import { postWeeklySummary } from '../shared/weekly-summary.js';
import { createRuntime, logNotifier, type Runtime } from './engine-runtime.js';
import { stopOnSignals } from './signals.js';

/**
 * The Slack outbox when the bot token is set (messages and DMs, delivered durably); otherwise the log.
 * `close` stops the outbox's consumer.
 */
export function workerNotifier(runtime: Runtime): Notifier & { close?(): Promise<void> } {
  if (!runtime.env.SLACK_BOT_TOKEN) return logNotifier(runtime.logger);
  return slackOutbox(runtime.env, {
    policy: runtime.policy,
    store: runtime.store,
    clock: runtime.clock,
    logger: runtime.logger,
    audit: runtime.audit,
    redis: runtime.redis,
  });
}

/** The weekly summary's job, when Slack and an audit channel are set and the policy has not turned it off. */
async function weeklySummaryFor(runtime: Runtime): Promise<WeeklySummaryJob | undefined> {
  const { env, policy } = runtime;
  const settings = policy.settings.weeklySummary;
  if (!env.SLACK_BOT_TOKEN || !policy.settings.auditChannel || !settings.enabled) return undefined;
  const publisher = new SlackSummaryPublisher(slackClient(env, { waitOnRateLimits: true }));
  return startWeeklySummaryJob({
    redis: runtime.redis,
    prefix: env.REDIS_PREFIX,
    logger: runtime.logger,
    cron: settings.cron,
    timeZone: settings.timeZone,
    run: () =>
      postWeeklySummary({
        audit: runtime.audit,
        archive: runtime.archive,
        policy,
        clock: runtime.clock,
        publisher,
        renderChart: renderBarChart,
      }),
  });
}

/** JOB_LOCK_DURATION as the workers' lock and stalled-check interval; nothing (BullMQ's 30 s) when unset. */
export function jobLock(setting: string | undefined): { lockDuration?: number; stalledInterval?: number } {
  const seconds = setting === undefined ? undefined : parseDuration(setting);
  return seconds ? { lockDuration: seconds * 1000, stalledInterval: seconds * 1000 } : {};
}

/** How long close() waits for running jobs: under the Deployments' 60 s terminationGracePeriodSeconds. */
export const DRAIN_MS = 45_000;

export interface RunningWorker {
  metrics: Metrics;
  workers: RunningWorkers;
  /** /healthz, /readyz, /metrics on METRICS_PORT (0: any free port, for tests). */
  health: HealthServer;
  /** Health server first (pod unready), then the workers drain, then queues and Redis close. */
  close(): Promise<void>;
}

/**
 * The worker role on a runtime: the engine's BullMQ workers reporting through an instrumented
 * notifier, the reconciler's job scheduler, and the health server. `main` adds env and signals only,
 * so tests run exactly this composition.
 */
export async function startWorker(
  runtime: Runtime,
  notifier: Notifier & { close?(): Promise<void> } = workerNotifier(runtime),
  { drainMs = DRAIN_MS }: { drainMs?: number } = {},
): Promise<RunningWorker> {
  const { env } = runtime;
  const metrics = createMetrics({
    // Counted from the status index: reading every active grant on each scrape held them all in memory.
    activeGrants: () => runtime.store.countByStatus('active'),
    queueCounts: () => runtime.scheduler.jobCounts(),
  });
  if (notifier instanceof SlackOutbox)
    notifier.trackUndelivered((step) => metrics.slackUndelivered.inc({ step }));
  const engineDeps = {
    ...runtime.engineDeps(instrumentNotifier(notifier, metrics)),
    onRevocationUnproven: () => metrics.revocationsUnproven.inc(),
  };
  const workers = await startWorkers(engineDeps, {
    redis: runtime.redis,
    prefix: env.REDIS_PREFIX,
    scheduler: runtime.scheduler,
    concurrency: env.WORKER_CONCURRENCY,
    reconcileEveryMs: (parseDuration(env.RECONCILE_INTERVAL) ?? 30) * 1000,
    onReconciled: (report) => recordReconcile(metrics, report),
    epoch: runtime.epoch,
    connectionLog: runtime.connectionLog,
    ...jobLock(env.JOB_LOCK_DURATION),
  });
  for (const worker of workers.workers) instrumentWorker(worker, metrics);
  const summaryJob = await weeklySummaryFor(runtime);
  trackReconciler(metrics, workers.keeper);
  trackRedisDataLoss(metrics, runtime.epoch);
  trackAuditArchive(metrics, runtime.audit);
  const health = await startHealthServer({
    port: env.METRICS_PORT,
    registry: metrics.registry,
    logger: runtime.logger,
    checks: {
      redis: async () => {
        await runtime.redis.ping();
      },
      // Fails only when no sweep completed for three periods; one unreachable cluster does not.
      reconcile: () => workers.keeper.ready(),
    },
  });
  runtime.logger.info(
    { concurrency: env.WORKER_CONCURRENCY, reconcile: env.RECONCILE_INTERVAL, metricsPort: health.port },
    'worker started',
  );
  return {
    metrics,
    workers,
    health,
    close: async () => {
      await health.close();
      // A BullMQ Worker whose Redis connection was lost can wait forever in its graceful close; stop
      // waiting before Kubernetes' grace period (60 s) ends: jobs are idempotent and will be retried.
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        workers.close().then(() => true),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), drainMs);
        }),
      ]);
      clearTimeout(timer);
      if (!drained) runtime.logger.warn({ drainMs }, 'running jobs did not finish in time; stopping anyway');
      await summaryJob?.close();
      await notifier.close?.();
      await runtime.close();
    },
  };
}

export async function main(_argv: readonly string[] = []): Promise<number> {
  const runtime = await createRuntime(parseEnv(process.env), { role: 'worker' });
  const worker = await startWorker(runtime);
  stopOnSignals(runtime.logger, () => worker.close());
  return new Promise<number>(() => {});
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
