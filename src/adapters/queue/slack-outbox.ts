// The Slack outbox: every notification the workflow sends (approval message and its updates, thread
// notes, DMs incl. the activation DM with the commands, expiry warnings, audit lines) is a BullMQ job,
// so a 429 or a blip delays a message instead of dropping it. One job per grant, event and version
// (adding it twice adds nothing); inside a job each step runs at most once (a Redis hash records the
// steps done before the job finishes), so a retry never posts twice. Retries wait Slack's Retry-After.
// App Home refreshes are one debounced job per person, however many grants change at once.
import { type Job, Queue, Worker } from 'bullmq';
import { isAccessError } from '../../domain/errors.js';
import type { Grant } from '../../domain/grant.js';
import type { GrantStore } from '../../ports/grant-store.js';
import type { GrantEvent, Notifier } from '../../ports/notifier.js';
import type { Logger } from '../logger.js';
import { blockingDuplicate, type RedisClient } from '../redis/connection.js';
import { RedisLocks } from '../redis/locks.js';
import { type SlackSettings, slackClient } from '../slack/app.js';
import { isTransientSlackError, retryAfterMs } from '../slack/errors.js';
import { type DeliverySteps, SlackNotifier, type SlackNotifierDeps } from '../slack/notifier.js';

export const OUTBOX_QUEUE = 'slack-outbox';
/**
 * Checks due later (a grant still not set up past its deadline), kept apart so the outbox's own
 * queue holds only what is to be delivered now: "the outbox drained" stays a meaningful question.
 */
export const OUTBOX_LATER_QUEUE = 'slack-outbox-later';

/** Payloads carry ids and the event (what happened, never a token or a rendered message). */
export type OutboxJob =
  | { kind: 'grant-changed'; grantId: string; version: number; event: GrantEvent }
  | { kind: 'home'; userId: string };

export interface SlackOutboxOptions {
  /** Renders and sends; its WebClient should reject rate-limited calls so the outbox schedules them. */
  notifier: SlackNotifier;
  store: GrantStore;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /** Tries per notification (default 10: with Retry-After and a 60 s cap, about ten minutes). */
  attempts?: number;
  /** First retry delay without a Retry-After, doubled each time (default 1 s). */
  retryBaseMs?: number;
  /** How long Home refreshes for one person are gathered into one (default 1 s). */
  homeDebounceMs?: number;
}

const DONE_TTL_SECONDS = 86_400;
const MAX_BACKOFF_MS = 60_000;

/** `ea-abc12345-activated-7`: BullMQ forbids ':' in custom ids. */
export const outboxJobId = (grantId: string, event: GrantEvent, version: number): string =>
  `${grantId}-${event.kind}-${version}`;

export class SlackOutbox implements Notifier {
  readonly #options: SlackOutboxOptions;
  readonly #queue: Queue<OutboxJob>;
  readonly #worker: Worker<OutboxJob>;
  readonly #later: Queue<OutboxJob>;
  readonly #laterWorker: Worker<OutboxJob>;
  readonly #connections: RedisClient[] = [];
  readonly #attempts: number;
  readonly #locks: RedisLocks;

  constructor(options: SlackOutboxOptions) {
    this.#options = options;
    this.#locks = new RedisLocks(options.redis, options.prefix);
    this.#attempts = options.attempts ?? 10;
    this.#queue = new Queue<OutboxJob>(OUTBOX_QUEUE, {
      connection: this.#connection(),
      prefix: options.prefix,
    });
    this.#worker = this.#consumer(OUTBOX_QUEUE, 4);
    this.#later = new Queue<OutboxJob>(OUTBOX_LATER_QUEUE, {
      connection: this.#connection(),
      prefix: options.prefix,
    });
    // A check that falls due is delivered like any notification (one at a time per grant, retried).
    this.#laterWorker = this.#consumer(OUTBOX_LATER_QUEUE, 2);
  }

  #consumer(queue: string, concurrency: number): Worker<OutboxJob> {
    const base = this.#options.retryBaseMs ?? 1_000;
    const worker = new Worker<OutboxJob>(queue, (job) => this.#process(job), {
      connection: this.#connection(),
      prefix: this.#options.prefix,
      concurrency,
      settings: {
        // Slack's Retry-After when it sent one, otherwise exponential; never a hot loop.
        backoffStrategy: (attemptsMade, _type, error) =>
          Math.min(retryAfterMs(error) ?? base * 2 ** Math.max(0, attemptsMade - 1), MAX_BACKOFF_MS),
      },
    });
    worker.on('error', (error) =>
      this.#options.logger.warn({ err: error, queue }, 'Slack outbox worker error'),
    );
    return worker;
  }

  #connection(): RedisClient {
    const redis = blockingDuplicate(this.#options.redis);
    this.#connections.push(redis);
    return redis;
  }

  async grantChanged(grant: Grant, event: GrantEvent): Promise<void> {
    await this.#add(this.#queue, grant, event, 0);
  }

  /** A delayed job: whichever consumer (bot or worker) is alive at `at` delivers it. */
  async grantCheckLater(grant: Grant, event: GrantEvent, at: number): Promise<void> {
    await this.#add(this.#later, grant, event, Math.max(0, at - Date.now()));
  }

  async #add(queue: Queue<OutboxJob>, grant: Grant, event: GrantEvent, delay: number): Promise<void> {
    // The plan is for the requester's reply, not for Slack messages; keep the payload small.
    const { plan: _plan, ...kept } = event as GrantEvent & { plan?: unknown };
    await queue.add(
      'grant-changed',
      { kind: 'grant-changed', grantId: grant.id, version: grant.version, event: kept as GrantEvent },
      {
        jobId: outboxJobId(grant.id, event, grant.version),
        ...(delay > 0 ? { delay } : {}),
        attempts: this.#attempts,
        backoff: { type: 'slack' },
        // Kept a day so the same notification queued again (a retried engine job) is not sent again.
        removeOnComplete: { age: DONE_TTL_SECONDS },
        removeOnFail: { age: 7 * DONE_TTL_SECONDS },
      },
    );
  }

  /** One refresh per person, however many are asked for while one waits (or runs). */
  async refreshHomes(userIds: readonly string[]): Promise<void> {
    await Promise.all(
      userIds.map((userId) =>
        this.#queue.add(
          'home',
          { kind: 'home', userId },
          {
            deduplication: { id: `home-${userId}`, keepLastIfActive: true },
            delay: this.#options.homeDebounceMs ?? 1_000,
            attempts: 3,
            backoff: { type: 'slack' },
            removeOnComplete: true,
            removeOnFail: true,
          },
        ),
      ),
    );
  }

  /** Jobs not yet done (waiting, delayed, active): tests await 0, metrics may report it. */
  async pending(): Promise<number> {
    const counts = await this.#queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /** Checks scheduled for later (grantCheckLater) not yet run: tests await 0 after their moment. */
  async checksPending(): Promise<number> {
    const counts = await this.#later.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  /**
   * Lets running deliveries finish, for at most `drainMs` (default 5 s): a consumer whose Redis
   * connection was lost may never finish a graceful close. Cut short, a delivery is retried by the
   * next consumer, repeating at most the step that was running.
   */
  async close(drainMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all([
        this.#worker.close(),
        this.#queue.close(),
        this.#laterWorker.close(),
        this.#later.close(),
      ]).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), drainMs);
      }),
    ]);
    clearTimeout(timer);
    if (!drained)
      this.#options.logger.warn({ drainMs }, 'Slack outbox did not drain in time; stopping anyway');
    for (const redis of this.#connections) redis.disconnect();
  }

  async #process(job: Job<OutboxJob>): Promise<void> {
    const data = job.data;
    if (data.kind === 'home') {
      await this.#options.notifier.publishHome(data.userId);
      return;
    }
    // One notification of a grant at a time, across bot and worker: two must never both find no
    // approval message and post one each.
    await this.#locks.withLock(`outbox-${data.grantId}`, () => this.#deliver(job, data), {
      waitMs: 30_000,
    });
  }

  async #deliver(job: Job<OutboxJob>, data: Extract<OutboxJob, { kind: 'grant-changed' }>): Promise<void> {
    const grant = await this.#options.store.get(data.grantId);
    if (!grant) return; // purged: nothing left to tell
    const done = `${this.#options.prefix}outbox:done:${job.id}`;
    const { redis, logger } = this.#options;
    let retry: unknown;
    const steps: DeliverySteps = {
      run: async (step, work) => {
        if ((await redis.hexists(done, step)) === 1) return undefined;
        try {
          const result = await work();
          await this.#markDone(done, step);
          return result;
        } catch (error) {
          if (steps.willRetry(error)) {
            retry ??= error;
            logger.info({ err: error, step, job: job.id }, 'Slack step will be retried');
            return undefined;
          }
          // Slack will not change its mind (not_in_channel, invalid_blocks…): logged, never retried.
          logger.warn({ err: error, step, job: job.id }, `Slack notification step failed: ${step}`);
          await this.#markDone(done, step);
          return undefined;
        }
      },
      // `unavailable`: Redis, or the lock of a message several grants share, was not to be had in time.
      willRetry: (error) =>
        (isTransientSlackError(error) || (isAccessError(error) && error.kind === 'unavailable')) &&
        job.attemptsMade + 1 < this.#attempts,
      refreshHomes: (userIds) => this.refreshHomes(userIds),
    };
    await this.#options.notifier.deliver(grant, data.event, steps);
    // Thrown after every other step had its turn; BullMQ retries, done steps are skipped.
    if (retry !== undefined) throw retry;
  }

  async #markDone(key: string, step: string): Promise<void> {
    await this.#options.redis
      .multi()
      .hset(key, step, String(Date.now()))
      .expire(key, DONE_TTL_SECONDS)
      .exec();
  }
}

/**
 * The outbox as bot and worker compose it: a notifier with its own client (rate limits rejected at once,
 * so the outbox waits Retry-After) and a consumer; both processes consume, BullMQ gives each job to one.
 */
export function slackOutbox(
  env: SlackSettings & { REDIS_PREFIX: string },
  deps: Omit<SlackNotifierDeps, 'client'> & { redis: RedisClient },
  options: Pick<SlackOutboxOptions, 'attempts' | 'retryBaseMs' | 'homeDebounceMs'> = {},
): SlackOutbox {
  const notifier = new SlackNotifier({
    ...deps,
    client: slackClient(env, { outbox: true }),
    // A message shared by several grants is rendered by one consumer at a time, bot or worker.
    locks: new RedisLocks(deps.redis, env.REDIS_PREFIX),
  });
  return new SlackOutbox({
    notifier,
    store: deps.store,
    redis: deps.redis,
    prefix: env.REDIS_PREFIX,
    logger: deps.logger,
    ...options,
  });
}
