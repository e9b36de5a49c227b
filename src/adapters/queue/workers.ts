// The BullMQ workers: one per queue, each job a call to one service. Transient failures are thrown so
// BullMQ retries with backoff; terminal ones throw UnrecoverableError (and fail the grant, for
// activations). Revocations never end as `failed`: the reconciler keeps trying until access is gone.
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { toAccessError } from '../../domain/errors.js';
import { activateGrant, failActivation } from '../../engine/activate.js';
import type { EngineDeps } from '../../engine/deps.js';
import { applyExtension, failExtension } from '../../engine/extend-grant.js';
import { markUpgrade } from '../../engine/ledger.js';
import { type ReconcileReport, reconcile } from '../../engine/reconcile.js';
import { revokeGrant } from '../../engine/revoke.js';
import {
  breakGlassReviewOverdue,
  lapsePendingRequest,
  remindApprovers,
  remindWindowOpens,
  warnExpiringSoon,
} from '../../shared/reminders.js';
import { blockingDuplicate, type RedisClient } from '../redis/connection.js';
import { type ConnectionLog, isConnectionError } from '../redis/connection-log.js';
import type { RedisEpoch } from '../redis/epoch.js';
import type { BullScheduler } from './bull-scheduler.js';
import { type GrantJob, QUEUES, RETRY } from './queues.js';
import { ReconcileKeeper } from './reconcile-keeper.js';

/** The timed jobs of the remind queue, by job name. */
const REMINDERS = {
  lapse: lapsePendingRequest,
  nudge: remindApprovers,
  warn: warnExpiringSoon,
  opens: remindWindowOpens,
  review: breakGlassReviewOverdue,
} as const;

export interface WorkerOptions {
  redis: RedisClient;
  prefix: string;
  scheduler: BullScheduler;
  concurrency: number;
  reconcileEveryMs: number;
  /** How long a job stays locked without renewal; a crashed worker's job is retried after this. */
  lockDuration?: number;
  stalledInterval?: number;
  /** Called with every reconciler report (metrics count its findings). */
  onReconciled?: (report: ReconcileReport) => void;
  /** Notices an emptied Redis; the reconcile keeper then re-creates its schedule and sweeps. */
  epoch?: RedisEpoch;
  /** Rate-limited logging of lost connections (ours and the ones BullMQ duplicates from them). */
  connectionLog?: ConnectionLog;
}

export interface RunningWorkers {
  workers: Worker[];
  /** The reconciler's schedule, fallback timer and last-sweep times. */
  keeper: ReconcileKeeper;
  /** Stops taking jobs, waits for running ones (unless `force`), closes connections. */
  close(force?: boolean): Promise<void>;
}

export async function startWorkers(deps: EngineDeps, options: WorkerOptions): Promise<RunningWorkers> {
  // When the grace of decisions sealed before the ledger existed began (first start only). Not a condition
  // to start: a worker that cannot reach the archive must still revoke, and until the marker is written a
  // v1 decision is refused (fails closed). Retried until written.
  const upgrade = await keepTrying(
    'record the upgrade marker in the archive',
    () => markUpgrade(deps),
    deps.logger,
  );
  const common = {
    prefix: options.prefix,
    concurrency: options.concurrency,
    ...(options.lockDuration ? { lockDuration: options.lockDuration } : {}),
    ...(options.stalledInterval ? { stalledInterval: options.stalledInterval } : {}),
  };
  const connections: RedisClient[] = [];
  const connection = (queue: string) => {
    const redis = blockingDuplicate(options.redis);
    options.connectionLog?.watch(redis, `worker:${queue}`);
    connections.push(redis);
    return redis;
  };
  const keeper = new ReconcileKeeper({
    redis: options.redis,
    prefix: options.prefix,
    queue: options.scheduler.queue(QUEUES.reconcile),
    everyMs: options.reconcileEveryMs,
    clock: deps.clock,
    logger: deps.logger,
    sweep: () => reconcile(deps),
    ...(options.epoch ? { epoch: options.epoch } : {}),
    ...(options.onReconciled ? { onReconciled: options.onReconciled } : {}),
  });
  const workers = [
    new Worker<GrantJob>(QUEUES.activate, (job) => runActivation(deps, job), {
      ...common,
      connection: connection(QUEUES.activate),
    }),
    new Worker<GrantJob>(QUEUES.extend, (job) => runExtension(deps, job), {
      ...common,
      connection: connection(QUEUES.extend),
    }),
    new Worker<GrantJob>(QUEUES.revoke, (job) => runRevocation(deps, job), {
      ...common,
      connection: connection(QUEUES.revoke),
    }),
    new Worker<GrantJob>(
      QUEUES.remind,
      (job) => runTerminalAware(() => REMINDERS[job.name as keyof typeof REMINDERS](deps, job.data.grantId)),
      { ...common, connection: connection(QUEUES.remind) },
    ),
    new Worker(QUEUES.reconcile, () => keeper.sweep('job'), {
      ...common,
      concurrency: 1,
      connection: connection(QUEUES.reconcile),
    }),
  ];
  for (const worker of workers) {
    worker.on('failed', (job, error) =>
      deps.logger.warn(
        { queue: worker.name, jobId: job?.id, attempts: job?.attemptsMade, err: error },
        'job failed',
      ),
    );
    // Mostly connection errors BullMQ re-emits from its own duplicates: counted into the same outage
    // as this worker's connection (whose 'ready' closes it), not logged once per retry.
    worker.on('error', (error) =>
      options.connectionLog && isConnectionError(error)
        ? options.connectionLog.failed(`worker:${worker.name}`, error)
        : deps.logger.error({ queue: worker.name, err: error }, 'worker error'),
    );
  }
  await keeper.start();
  return {
    workers,
    keeper,
    close: async (force = false) => {
      upgrade.stop();
      keeper.stop();
      await Promise.all(workers.map((w) => w.close(force)));
      // Connections we pass in are ours to close; BullMQ closes only those it created.
      await Promise.all(connections.map((c) => c.quit().catch(() => undefined)));
    },
  };
}

const lastAttempt = (job: Job) => job.attemptsMade + 1 >= (job.opts.attempts ?? RETRY.attempts);

async function runActivation(deps: EngineDeps, job: Job<GrantJob>): Promise<void> {
  try {
    await activateGrant(deps, job.data.grantId);
  } catch (error) {
    const reason = toAccessError(error);
    if (reason.transient && !lastAttempt(job)) throw reason;
    await failActivation(deps, job.data.grantId, reason);
    throw new UnrecoverableError(reason.message);
  }
}

/**
 * A claimed extension is retried while the failure is transient; when it cannot be applied (or the
 * retries run out) the claim is dropped and reported to the requester and the audit stream, never lost.
 */
async function runExtension(deps: EngineDeps, job: Job<GrantJob>): Promise<void> {
  const { grantId, extensionId } = job.data;
  if (!extensionId) throw new UnrecoverableError('extend job without an extension id');
  try {
    await applyExtension(deps, grantId, extensionId);
  } catch (error) {
    const reason = toAccessError(error);
    if (reason.transient && !lastAttempt(job)) throw reason;
    await failExtension(deps, grantId, extensionId, reason);
    throw new UnrecoverableError(reason.message);
  }
}

async function runRevocation(deps: EngineDeps, job: Job<GrantJob>): Promise<void> {
  await runTerminalAware(() => revokeGrant(deps, job.data.grantId));
}

async function runTerminalAware(work: () => Promise<unknown>): Promise<void> {
  try {
    await work();
  } catch (error) {
    const reason = toAccessError(error);
    if (reason.transient) throw reason;
    throw new UnrecoverableError(reason.message);
  }
}

/**
 * Runs `work` now (awaited: when it succeeds, it is done before anything else starts) and, while it fails,
 * again every 30 s in the background (each failure logged) until it succeeds or is stopped.
 */
async function keepTrying(
  what: string,
  work: () => Promise<void>,
  logger: EngineDeps['logger'],
): Promise<{ stop(): void }> {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const attempt = () =>
    work().catch((error: unknown) => {
      logger.warn({ err: error }, `could not ${what}; trying again in 30 s`);
      if (!stopped) timer = setTimeout(attempt, 30_000);
    });
  await attempt();
  return {
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
