// Keeps the reconciler running whatever happens to Redis's data. The BullMQ job scheduler that drives
// it lives in Redis, so a Redis that loses its data (failover to an empty replica, restart without
// persistence, FLUSHALL) would silently stop every sweep while the processes keep running. Three
// guards, none of which can create access (a sweep only takes away what is expired or over):
//   1. the scheduler is re-asserted (upsertJobScheduler, idempotent) on every tick, every sweep and
//      every Redis reconnect, and a reconnect sweeps at once (see #onReconnect);
//   2. the Redis epoch (adapters/redis/epoch.ts) notices an emptied Redis on a tick or a reconnect;
//      the keeper then re-creates the scheduler and sweeps at once;
//   3. an in-process timer that never depends on Redis state: when no sweep has completed for two
//      periods (by this process, or by any worker as far as Redis still says), this process sweeps.
// Sweeps in one process are single-flight (the job and the fallback share one run). Across workers
// they may overlap: that is safe because the reconciler is idempotent (every step is keyed by grant
// id, state changes are compare-and-set, identity edits hold the person's lock), so no distributed
// lock is taken — one would live in the very Redis whose loss this guards against.
import type { Queue } from 'bullmq';
import type { Clock } from '../../domain/clock.js';
import type { ReconcileReport } from '../../engine/reconcile.js';
import type { Logger } from '../logger.js';
import type { RedisClient } from '../redis/connection.js';
import type { RedisEpoch } from '../redis/epoch.js';
import { grantJob, RECONCILE_SCHEDULER_ID } from './queues.js';

/** Where workers record their sweeps, so every worker and `doctor` see the latest one (best-effort). */
export const reconcileKeys = (prefix: string) => ({
  lastRun: `${prefix}:reconcile:last-run`,
  lastSuccess: `${prefix}:reconcile:last-success`,
});

/** A sweep is overdue after this many periods without one; the fallback then runs one itself. */
export const OVERDUE_PERIODS = 2;

export type SweepSource = 'job' | 'fallback' | 'redis-data-lost' | 'redis-reconnect';

export interface ReconcileKeeperOptions {
  redis: RedisClient;
  prefix: string;
  queue: Queue;
  everyMs: number;
  clock: Clock;
  logger: Logger;
  /** One reconcile pass (engine/reconcile.ts). */
  sweep: () => Promise<ReconcileReport>;
  epoch?: RedisEpoch;
  onReconciled?: (report: ReconcileReport, source: SweepSource) => void;
}

export class ReconcileKeeper {
  readonly #o: ReconcileKeeperOptions;
  readonly #keys: ReturnType<typeof reconcileKeys>;
  readonly #startedAt: number;
  #timer: NodeJS.Timeout | undefined;
  readonly #forgetEpoch: (() => void) | undefined;
  #running: Promise<ReconcileReport> | undefined;
  #ticking = false;
  /** Latest completed sweep (errors or not) and latest one without errors, by any worker we know of. */
  #lastRunAt: number | undefined;
  #lastSuccessAt: number | undefined;

  constructor(options: ReconcileKeeperOptions) {
    this.#o = options;
    this.#keys = reconcileKeys(options.prefix);
    this.#startedAt = options.clock.now();
    this.#forgetEpoch = options.epoch?.onLost(async () => {
      await this.assertSchedule();
      await this.sweep('redis-data-lost');
    });
  }

  get lastRunAt(): number | undefined {
    return this.#lastRunAt;
  }

  get lastSuccessAt(): number | undefined {
    return this.#lastSuccessAt;
  }

  get everyMs(): number {
    return this.#o.everyMs;
  }

  /**
   * The readiness signal: throws when no sweep has completed for three periods (the fallback runs at
   * two, so by then even this process could not finish one). A sweep with errors still counts: one
   * unreachable cluster must not make the worker unready; it shows in the last-success metric instead.
   */
  async ready(): Promise<void> {
    const now = this.#o.clock.now();
    const age = now - (this.#lastRunAt ?? this.#startedAt);
    if (age > (OVERDUE_PERIODS + 1) * this.#o.everyMs) {
      throw new Error(
        `no reconcile sweep completed for ${Math.round(age / 1000)} s (period ${Math.round(this.#o.everyMs / 1000)} s)`,
      );
    }
  }

  /** Asserts the schedule and starts the fallback timer (a tick per period). */
  async start(): Promise<void> {
    await this.assertSchedule();
    this.#timer = setInterval(() => void this.tick(), this.#o.everyMs);
    this.#timer.unref();
    // A reconnect may be to a different (emptied) server: re-assert at once, not a period later.
    this.#o.redis.on('ready', this.#onReconnect);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#o.redis.off('ready', this.#onReconnect);
    this.#forgetEpoch?.();
  }

  /**
   * Back from a Redis outage: re-assert the schedule and sweep now, after any sweep the outage cut
   * (that one read its state before the outage). Waiting is what made an outage across an expiry end
   * access late: revoke jobs that fell due are taken only when BullMQ's workers leave their run-retry
   * delay (15 s after a connection error), and the fallback counts the cut sweep as a recent one
   * (the chaos scenario `redis-down-expiry`: gone 7.9 s after Redis was back before, 1.2–3.3 s with this).
   */
  readonly #onReconnect = () => {
    void this.assertSchedule().catch(() => undefined);
    const cut = this.#running?.catch(() => undefined);
    void (async () => {
      await cut;
      await this.sweep('redis-reconnect');
    })().catch((error: unknown) =>
      this.#o.logger.warn({ err: error }, 'reconcile sweep after a Redis reconnect failed'),
    );
  };

  assertSchedule(): Promise<unknown> {
    return this.#o.queue.upsertJobScheduler(
      RECONCILE_SCHEDULER_ID,
      { every: this.#o.everyMs },
      { name: 'reconcile', data: grantJob(''), opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
  }

  /** The reconcile job's processor and the fallback both come here: one sweep at a time per process. */
  sweep(source: SweepSource): Promise<ReconcileReport> {
    this.#running ??= this.#sweep(source).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #sweep(source: SweepSource): Promise<ReconcileReport> {
    if (source !== 'job') this.#o.logger.info({ source }, 'reconcile sweep started by this process');
    const report = await this.#o.sweep();
    const now = this.#o.clock.now();
    this.#lastRunAt = now;
    if (report.errors.length === 0) this.#lastSuccessAt = now;
    this.#o.onReconciled?.(report, source);
    // Shared so other workers' fallbacks and `doctor` see it; losing these keys only makes a sweep sooner.
    const shared = this.#o.redis.multi().set(this.#keys.lastRun, String(now));
    if (report.errors.length === 0) shared.set(this.#keys.lastSuccess, String(now));
    await shared.exec().catch(() => undefined);
    // Re-assert after every sweep too: a scheduler removed between ticks is back within one period.
    await this.assertSchedule().catch(() => undefined);
    return report;
  }

  /** One fallback tick: epoch, schedule, then a sweep of our own if the last one is overdue. */
  async tick(): Promise<void> {
    if (this.#ticking) return;
    this.#ticking = true;
    try {
      await this.#o.epoch?.check().catch(() => undefined);
      await this.assertSchedule().catch((error: unknown) =>
        this.#o.logger.debug({ err: error }, 'could not assert the reconcile schedule (Redis unavailable?)'),
      );
      await this.#readShared();
      const now = this.#o.clock.now();
      const last = this.#lastRunAt ?? this.#startedAt;
      if (now - last < OVERDUE_PERIODS * this.#o.everyMs) return;
      this.#o.logger.warn(
        { event: 'reconcile-overdue', lastRunAt: this.#lastRunAt, everyMs: this.#o.everyMs },
        'no reconcile sweep completed for two periods; this worker runs one itself',
      );
      await this.sweep('fallback');
    } catch (error) {
      this.#o.logger.warn({ err: error }, 'fallback reconcile tick failed');
    } finally {
      this.#ticking = false;
    }
  }

  /** Adopts newer sweeps recorded by other workers; values in the future are ignored (never trusted to delay). */
  async #readShared(): Promise<void> {
    const [run, success] = await this.#o.redis
      .mget(this.#keys.lastRun, this.#keys.lastSuccess)
      .catch(() => []);
    const now = this.#o.clock.now();
    const adopt = (value: string | null | undefined, mine: number | undefined) => {
      const at = Number(value);
      return Number.isFinite(at) && at > (mine ?? 0) && at <= now ? at : mine;
    };
    this.#lastRunAt = adopt(run, this.#lastRunAt);
    this.#lastSuccessAt = adopt(success, this.#lastSuccessAt);
  }
}
