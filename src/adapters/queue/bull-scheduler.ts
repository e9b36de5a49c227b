// The Scheduler port on BullMQ. Rescheduling replaces the previous delayed job: the adapter remembers
// each grant's current job id per kind and removes the old one. A job that cannot be removed (it is
// running) is harmless: every job re-reads the grant and does nothing when its moment has passed.
import { Queue } from 'bullmq';
import type { Clock } from '../../domain/clock.js';
import { AccessError } from '../../domain/errors.js';
import type { Scheduler } from '../../ports/scheduler.js';
import type { RedisClient } from '../redis/connection.js';
import {
  extensionJobId,
  type GrantJob,
  grantJob,
  type JobKind,
  jobIdFor,
  OUTBOX_QUEUE,
  QUEUES,
  type QueueName,
  RETRY,
} from './queues.js';

const QUEUE_OF: Record<JobKind, QueueName> = {
  activate: QUEUES.activate,
  revoke: QUEUES.revoke,
  warn: QUEUES.remind,
  lapse: QUEUES.remind,
  opens: QUEUES.remind,
  review: QUEUES.remind,
  nudge: QUEUES.remind,
};

export class BullScheduler implements Scheduler {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #queues = new Map<QueueName, Queue<GrantJob>>();
  /** Read only, for its job counts: the outbox's own process adds and works its jobs. */
  #outbox: Queue | undefined;
  readonly #onError: (error: Error) => void;

  /**
   * `redis` is shared by the queues (not a blocking connection); `prefix` is REDIS_PREFIX. `onError`
   * hears the queues' connection errors: a BullMQ Queue without an 'error' listener prints each one
   * with console.error, once per reconnection attempt.
   */
  constructor(
    redis: RedisClient,
    prefix: string,
    clock: Clock,
    onError: (error: Error) => void = () => undefined,
  ) {
    this.#redis = redis;
    this.#prefix = prefix;
    this.#clock = clock;
    this.#onError = onError;
  }

  queue(name: QueueName): Queue<GrantJob> {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue<GrantJob>(name, {
        connection: this.#redis,
        prefix: this.#prefix,
        defaultJobOptions: { ...RETRY, removeOnComplete: true, removeOnFail: 1000 },
      });
      queue.on('error', this.#onError);
      this.#queues.set(name, queue);
    }
    return queue;
  }

  /**
   * Job counts by state for every queue, the Slack outbox's included (for the queue-depth gauge: an
   * outbox that backs up or keeps retrying is what the Slack alerts watch).
   */
  async jobCounts(): Promise<Record<string, Record<string, number>>> {
    const names = Object.values(QUEUES);
    const counts = await Promise.all(names.map((name) => this.queue(name).getJobCounts()));
    if (!this.#outbox) {
      this.#outbox = new Queue(OUTBOX_QUEUE, { connection: this.#redis, prefix: this.#prefix });
      this.#outbox.on('error', this.#onError);
    }
    const outbox = await this.#outbox.getJobCounts();
    return { ...Object.fromEntries(names.map((name, i) => [name, counts[i] ?? {}])), [OUTBOX_QUEUE]: outbox };
  }

  enqueueActivation(grantId: string, at?: number): Promise<void> {
    const delay = at === undefined ? 0 : Math.max(0, at - this.#clock.now());
    // A later moment gets its own job id: the job that found it too early may still be running, and a
    // job with its own id would swallow the new one.
    const jobId = jobIdFor('activate', grantId, delay > 0 ? at : undefined);
    return this.#enqueueNow(QUEUES.activate, 'activate', grantJob(grantId), jobId, delay);
  }

  enqueueExtension(grantId: string, extensionId: string): Promise<void> {
    return this.#enqueueNow(
      QUEUES.extend,
      'extend',
      grantJob(grantId, extensionId),
      extensionJobId(grantId, extensionId),
    );
  }

  async #enqueueNow(queue: QueueName, name: string, data: GrantJob, jobId: string, delay = 0): Promise<void> {
    // A finished or failed job with the same id would swallow the new one; clear it first.
    await this.#call(async () => {
      const existing = await this.queue(queue).getJob(jobId);
      if (existing && ((await existing.isCompleted()) || (await existing.isFailed())))
        await existing.remove();
      await this.queue(queue).add(name, data, { jobId, ...(delay > 0 ? { delay } : {}) });
    });
  }

  scheduleRevocation(grantId: string, at?: number): Promise<void> {
    return this.#replace('revoke', grantId, at ?? this.#clock.now());
  }

  scheduleExpiryWarning(grantId: string, at: number): Promise<void> {
    return this.#replace('warn', grantId, at);
  }

  schedulePendingTimeout(grantId: string, at: number): Promise<void> {
    return this.#replace('lapse', grantId, at);
  }

  scheduleBreakGlassReview(grantId: string, at: number): Promise<void> {
    return this.#replace('review', grantId, at);
  }

  scheduleWindowReminder(grantId: string, at: number): Promise<void> {
    return this.#replace('opens', grantId, at);
  }

  scheduleApprovalReminder(grantId: string, at: number): Promise<void> {
    // Not a replacement: each reminder has its own moment, and the id makes a repeat collapse.
    return this.#call(async () => {
      await this.queue(QUEUE_OF.nudge).add('nudge', grantJob(grantId), {
        jobId: jobIdFor('nudge', grantId, at),
        delay: Math.max(0, at - this.#clock.now()),
      });
    });
  }

  cancelApprovalReminders(grantId: string, at: readonly number[]): Promise<void> {
    return this.#call(async () => {
      const queue = this.queue(QUEUE_OF.nudge);
      for (const moment of at) {
        const job = await queue.getJob(jobIdFor('nudge', grantId, moment));
        if (job && (await job.isDelayed())) await job.remove().catch(() => undefined);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#queues.values(), ...(this.#outbox ? [this.#outbox] : [])].map((q) => q.close()),
    );
  }

  async #replace(kind: JobKind, grantId: string, at: number): Promise<void> {
    const queue = this.queue(QUEUE_OF[kind]);
    const jobId = jobIdFor(kind, grantId, at);
    const currentKey = `${this.#prefix}:schedule:${kind}:${grantId}`;
    await this.#call(async () => {
      const previous = await this.#redis.getset(currentKey, jobId);
      await this.#redis.pexpireat(currentKey, at + 7 * 86_400_000);
      if (previous && previous !== jobId) {
        const old = await queue.getJob(previous);
        if (old && (await old.isDelayed())) await old.remove().catch(() => undefined);
      }
      await queue.add(kind, grantJob(grantId), { jobId, delay: Math.max(0, at - this.#clock.now()) });
    });
  }

  async #call(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      throw new AccessError('unavailable', 'The job queue (Redis) did not accept the job', { cause: error });
    }
  }
}
