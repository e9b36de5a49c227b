// The worker: activation, revocation at expiry, reminders and the reconciler on BullMQ.
// SIGTERM/SIGINT: stop taking jobs, let running ones finish, close queues and Redis.
import { pathToFileURL } from 'node:url';
import { startHealthServer } from '../adapters/http/health-server.js';
import { createMetrics, instrumentNotifier, instrumentWorker, recordReconcile } from '../adapters/metrics.js';
import { startWorkers } from '../adapters/queue/workers.js';
import { slackClient } from '../adapters/slack/app.js';
import { SlackNotifier } from '../adapters/slack/notifier.js';
import { parseEnv } from '../config/load.js';
import { parseDuration } from '../domain/duration.js';
import type { Notifier } from '../ports/notifier.js';
import { stopOnSignals } from './bot.js';
import { createRuntime, logNotifier, type Runtime } from './runtime.js';

/** The Slack notifier when the bot token is set (messages and DMs); otherwise the log. */
function workerNotifier(runtime: Runtime): Notifier {
  if (!runtime.env.SLACK_BOT_TOKEN) return logNotifier(runtime.logger);
  return new SlackNotifier({
    client: slackClient(runtime.env),
    policy: runtime.policy,
    store: runtime.store,
    clock: runtime.clock,
    logger: runtime.logger,
  });
}

export async function main(_argv: readonly string[] = []): Promise<number> {
  const env = parseEnv(process.env);
  const runtime = await createRuntime(env, { role: 'worker' });
  const metrics = createMetrics({
    activeGrants: async () => (await runtime.store.listByStatus(['active'])).length,
    queueCounts: () => runtime.scheduler.jobCounts(),
  });
  const workers = await startWorkers(
    runtime.engineDeps(instrumentNotifier(workerNotifier(runtime), metrics)),
    {
      redis: runtime.redis,
      prefix: env.REDIS_PREFIX,
      scheduler: runtime.scheduler,
      concurrency: env.WORKER_CONCURRENCY,
      reconcileEveryMs: (parseDuration(env.RECONCILE_INTERVAL) ?? 30) * 1000,
      onReconciled: (report) => recordReconcile(metrics, report),
    },
  );
  for (const worker of workers.workers) instrumentWorker(worker, metrics);
  const health = await startHealthServer({
    port: env.METRICS_PORT,
    registry: metrics.registry,
    logger: runtime.logger,
    checks: {
      redis: async () => {
        await runtime.redis.ping();
      },
    },
  });
  runtime.logger.info(
    { concurrency: env.WORKER_CONCURRENCY, reconcile: env.RECONCILE_INTERVAL },
    'worker started',
  );
  stopOnSignals(runtime.logger, async () => {
    await health.close();
    await workers.close();
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
