// The Slack outbox: every notification the workflow sends (approval message and its updates, thread
// notes, DMs incl. the activation DM with the commands, expiry warnings, audit lines) is a BullMQ job,
// so a 429 or a blip delays a message instead of dropping it. One job per grant, event and version
// (adding it twice adds nothing); inside a job each step runs at most once (a Redis hash records the
// steps done before the job finishes), so a retry never posts twice after a refusal (429, 5xx): each DM
// is a step of its own. Retries wait Slack's Retry-After. A step that carries access (the approval
// message, the DM with the commands, the notice that access ended) is retried for as long as it is
// still needed, not just `attempts` times; undeliverable, it is told another way and counted.
// App Home refreshes are one debounced job per person, however many grants change at once.
import { type Job, Queue, Worker } from 'bullmq';
import { isAccessError } from '../../domain/errors.js';
import { OUTBOX_PAYLOAD_VERSION } from '../../domain/formats.js';
import type { Grant } from '../../domain/grant.js';
import type { GrantStore } from '../../ports/grant-store.js';
import type { GrantEvent, Notifier } from '../../ports/notifier.js';
import type { Logger } from '../logger.js';
import { blockingDuplicate, type RedisClient } from '../redis/connection.js';
import { RedisLocks } from '../redis/locks.js';
import type { Message } from '../slack/blocks.js';
import { type SlackSettings, slackClient } from '../slack/client.js';
import { isTransientSlackError, retryAfterMs } from '../slack/errors.js';
import { type DeliverySteps, SlackNotifier, type SlackNotifierDeps } from '../slack/notifier.js';
import { OUTBOX_QUEUE } from './queues.js';

export { OUTBOX_QUEUE };
/**
 * Checks due later (a grant still not set up past its deadline), kept apart so the outbox's own
 * queue holds only what is to be delivered now: "the outbox drained" stays a meaningful question.
 */
export const OUTBOX_LATER_QUEUE = 'slack-outbox-later';

/**
 * Payloads carry ids and the event (what happened, never a token or a rendered message), and the payload
 * format's version (`v`, OUTBOX_PAYLOAD_VERSION; absent on jobs queued before it was stamped: version 1).
 */
export type OutboxJob =
  | { kind: 'grant-changed'; v?: number; grantId: string; version: number; event: GrantEvent }
  | { kind: 'home'; v?: number; userId: string }
  /** Posts the audit lines waiting in `<prefix>outbox:audit-lines` (v: the list's entry format). */
  | { kind: 'audit-batch'; v: 1 };

/** Audit lines per batched post: one context block each, well inside 50 blocks and 4 000 characters. */
const AUDIT_BATCH = 20;

export interface SlackOutboxOptions {
  /** Renders and sends; its WebClient should reject rate-limited calls so the outbox schedules them. */
  notifier: SlackNotifier;
  store: GrantStore;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  /**
   * Tries of a best-effort step (default 10: with Retry-After and a 60 s cap, about ten minutes). A
   * step that carries access is tried until delivered or no longer needed.
   */
  attempts?: number;
  /** Counts a step that carries access and could not be delivered (the metric), by step name. */
  onUndelivered?: (step: string) => void;
  /** First retry delay without a Retry-After, doubled each time (default 1 s). */
  retryBaseMs?: number;
  /** How long Home refreshes for one person are gathered into one (default 1 s). */
  homeDebounceMs?: number;
}

const DONE_TTL_SECONDS = 86_400;
const MAX_BACKOFF_MS = 60_000;
/**
 * BullMQ's cap on a notification's tries: high enough that a step carrying access is retried for as
 * long as it is needed (a grant's longest life at one try a minute); the outbox's own `attempts`
 * stops best-effort steps long before.
 */
const JOB_ATTEMPTS = 100_000;
/** How long refused audit lines gather before one post (about a channel's one post a second, twice). */
const AUDIT_BATCH_DELAY_MS = 2_000;

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
  #onUndelivered: ((step: string) => void) | undefined;

  constructor(options: SlackOutboxOptions) {
    this.#options = options;
    this.#locks = new RedisLocks(options.redis, options.prefix);
    this.#attempts = options.attempts ?? 10;
    this.#onUndelivered = options.onUndelivered;
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

  /** Counts undeliverable steps that carry access (the composition root's metric). */
  trackUndelivered(count: (step: string) => void): void {
    this.#onUndelivered = count;
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
      {
        kind: 'grant-changed',
        v: OUTBOX_PAYLOAD_VERSION,
        grantId: grant.id,
        version: grant.version,
        event: kept as GrantEvent,
      },
      {
        jobId: outboxJobId(grant.id, event, grant.version),
        ...(delay > 0 ? { delay } : {}),
        attempts: JOB_ATTEMPTS,
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
          { kind: 'home', v: OUTBOX_PAYLOAD_VERSION, userId },
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

  /**
   * An audit line that met a rate limit joins a Redis list; one job (deduplicated, after Retry-After)
   * posts up to AUDIT_BATCH of them as one message, then schedules itself again while lines wait. A
   * burst of 200 changes then costs about ten audit posts instead of 200 retried ones.
   */
  async #deferAuditLine(channel: string, line: { text: string; blocks: unknown[] }): Promise<void> {
    const key = this.#auditLinesKey();
    await this.#options.redis
      .multi()
      .rpush(key, JSON.stringify({ v: 1, channel, text: line.text, blocks: line.blocks }))
      .expire(key, 7 * DONE_TTL_SECONDS)
      .exec();
    await this.#scheduleAuditBatch();
  }

  #auditLinesKey(): string {
    return `${this.#options.prefix}outbox:audit-lines`;
  }

  async #scheduleAuditBatch(): Promise<void> {
    await this.#queue.add(
      'audit-batch',
      { kind: 'audit-batch', v: 1 },
      {
        deduplication: { id: 'audit-batch', keepLastIfActive: true },
        delay: AUDIT_BATCH_DELAY_MS,
        attempts: JOB_ATTEMPTS,
        backoff: { type: 'slack' },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  async #postAuditBatch(): Promise<void> {
    const key = this.#auditLinesKey();
    const raw = await this.#options.redis.lrange(key, 0, AUDIT_BATCH - 1);
    const lines = raw.flatMap((entry) => {
      try {
        const line = JSON.parse(entry) as {
          v?: number;
          channel: string;
          text: string;
          blocks: Message['blocks'];
        };
        // A format this version does not know (a newer one's) is dropped with the batch, not misread.
        return line.v === 1 ? [line] : [];
      } catch {
        return [];
      }
    });
    const channels = [...new Set(lines.map((l) => l.channel))];
    for (const channel of channels)
      await this.#options.notifier.postAuditLines(
        channel,
        lines.filter((l) => l.channel === channel),
      );
    // Posted (a crash before this line posts them again: at least once, like a lost answer).
    await this.#options.redis.ltrim(key, raw.length, -1);
    if ((await this.#options.redis.llen(key)) > 0) await this.#scheduleAuditBatch();
  }

  async #process(job: Job<OutboxJob>): Promise<void> {
    const data = job.data;
    if (data.kind === 'home') {
      await this.#options.notifier.publishHome(data.userId);
      return;
    }
    if (data.kind === 'audit-batch') {
      await this.#postAuditBatch();
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
    const later = (error: unknown, what: string): void => {
      retry ??= error;
      logger.info({ err: error, step: what, job: job.id }, 'Slack step will be retried');
    };
    const steps: DeliverySteps = {
      run: async (step, work, options) => {
        if ((await redis.hexists(done, step)) === 1) return undefined;
        try {
          const result = await work();
          await this.#markDone(done, step);
          return result;
        } catch (error) {
          if (steps.willRetry(error, options)) {
            later(error, step);
            return undefined;
          }
          // Slack will not change its mind (not_in_channel, invalid_blocks…), or the step is no longer
          // needed: logged, never retried.
          logger.warn({ err: error, step, job: job.id }, `Slack notification step failed: ${step}`);
          const access = options?.carriesAccess;
          if (access) {
            // Counted by the step's kind (a DM step names its person: not a label).
            this.#onUndelivered?.(step.replace(/ [UW][A-Z0-9]+$/, ''));
            await access
              .undelivered(error)
              .catch((e: unknown) =>
                logger.warn({ err: e, step, job: job.id }, 'could not tell another way either'),
              );
          }
          await this.#markDone(done, step);
          return undefined;
        }
      },
      read: async (what, work) => {
        try {
          return await work();
        } catch (error) {
          if (steps.willRetry(error)) later(error, what);
          else
            logger.warn({ err: error, step: what, job: job.id }, `Slack notification read failed: ${what}`);
          return undefined;
        }
      },
      // `unavailable`: Redis, Slack's directory, or the lock of a message several grants share, was
      // not to be had in time.
      willRetry: (error, options) =>
        (isTransientSlackError(error) || (isAccessError(error) && error.kind === 'unavailable')) &&
        (job.attemptsMade + 1 < this.#attempts || (options?.carriesAccess?.stillNeeded() ?? false)),
      refreshHomes: (userIds) => this.refreshHomes(userIds),
      deferAuditLine: (channel, line) => this.#deferAuditLine(channel, line),
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
  options: Pick<SlackOutboxOptions, 'attempts' | 'retryBaseMs' | 'homeDebounceMs' | 'onUndelivered'> = {},
): SlackOutbox {
  const notifier = new SlackNotifier({
    ...deps,
    client: slackClient(env),
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
