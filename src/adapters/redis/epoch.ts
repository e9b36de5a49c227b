// Noticing that Redis lost its data while this process kept running (a failover to an empty replica, a
// managed Redis restarted without persistence, FLUSHALL). Every process writes a random epoch under the
// prefix when it starts, adopts whatever epoch is already there, and compares on each check: a missing
// or different epoch means the data this process relied on is gone, so the process re-creates what it
// needs (the worker: the reconciler's job scheduler, and a sweep at once) through `onLost` hooks.
// The epoch is never a reason to grant anything: it only triggers re-creation and a clean-up sweep.
import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { RedisClient } from './connection.js';

export type EpochCheck = 'same' | 'lost';
type Hook = () => Promise<void> | void;

export class RedisEpoch {
  readonly #redis: RedisClient;
  readonly #key: string;
  readonly #logger: Logger;
  readonly #hooks: Hook[] = [];
  #known: string | undefined;
  #checking: Promise<EpochCheck> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(redis: RedisClient, prefix: string, logger: Logger) {
    this.#redis = redis;
    this.#key = `${prefix}:epoch`;
    this.#logger = logger;
  }

  /**
   * Runs `hook` after a loss is noticed (its failure is logged, not thrown: the next check retries).
   * Returns a function that removes it (a closed worker must not sweep).
   */
  onLost(hook: Hook): () => void {
    this.#hooks.push(hook);
    return () => {
      const at = this.#hooks.indexOf(hook);
      if (at >= 0) this.#hooks.splice(at, 1);
    };
  }

  /** Adopts the current epoch (writing one if there is none), then checks every `everyMs` and on reconnect. */
  async start(everyMs: number): Promise<void> {
    this.#known = await this.#establish();
    this.#timer = setInterval(() => void this.check().catch(() => undefined), everyMs);
    this.#timer.unref();
    // 'ready' fires after every reconnect: a Redis that came back empty is noticed at once.
    this.#redis.on('ready', this.#onReady);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#redis.off('ready', this.#onReady);
  }

  readonly #onReady = () => void this.check().catch(() => undefined);

  /** 'lost' when the epoch vanished or changed since the last check; concurrent callers share one check. */
  check(): Promise<EpochCheck> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<EpochCheck> {
    if (this.#known === undefined) {
      this.#known = await this.#establish();
      return 'same';
    }
    const current = await this.#redis.get(this.#key);
    if (current === this.#known) return 'same';
    const previous = this.#known;
    this.#known = await this.#establish();
    this.#logger.warn(
      {
        event: 'redis-data-lost',
        epochFound: current === null ? 'none' : 'another',
        previous,
        now: this.#known,
      },
      current === null
        ? 'Redis lost its data (the epoch key is gone); re-creating what this process needs'
        : 'Redis was emptied and re-initialised by another process; re-creating what this process needs',
    );
    for (const hook of [...this.#hooks]) {
      try {
        await hook();
      } catch (error) {
        this.#logger.error({ err: error }, 'could not re-create state after Redis lost its data');
      }
    }
    return 'lost';
  }

  async #establish(): Promise<string> {
    await this.#redis.set(this.#key, `${Date.now()}-${randomBytes(6).toString('hex')}`, 'NX');
    return (await this.#redis.get(this.#key)) ?? '';
  }
}
