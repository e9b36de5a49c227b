// One structured story per lost Redis connection instead of ioredis' "[ioredis] Unhandled error event"
// stack trace on every retry: the first failure as a warning with the retry state, then a summary at
// most every `summaryEveryMs` while it lasts, and one line when the connection is back. BullMQ's
// workers re-emit their connections' errors as 'error' events; those go through the same log.
import type { Logger } from '../logger.js';
import type { RedisClient } from './connection.js';

export interface ConnectionLogOptions {
  /** How often a still-failing connection is summarised (default 30 s). */
  summaryEveryMs?: number;
  now?: () => number;
}

interface Outage {
  since: number;
  errors: number;
  lastSummary: number;
  lastError: string;
}

const describe = (error: unknown): string => {
  const e = error as { code?: string; message?: string } | undefined;
  return e?.code ?? e?.message?.split('\n')[0] ?? String(error);
};

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Whether an error is the connection failing (not a command or job error, which is logged as itself). */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  if (e?.code && CONNECTION_CODES.has(e.code)) return true;
  // The cluster client's own ways of saying the same (every node down, a failover under way).
  return /Connection is closed|connect ETIMEDOUT|Stream isn't writeable|Failed to refresh slots cache|None of startup nodes is available|^CLUSTERDOWN/.test(
    e?.message ?? '',
  );
}

/** Rate-limited logging of connection failures, per named connection, for one process. */
export class ConnectionLog {
  readonly #logger: Logger;
  readonly #summaryEveryMs: number;
  readonly #now: () => number;
  readonly #outages = new Map<string, Outage>();

  constructor(logger: Logger, options: ConnectionLogOptions = {}) {
    this.#logger = logger;
    this.#summaryEveryMs = options.summaryEveryMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Attaches error/ready listeners to an ioredis connection (so ioredis never reports an unhandled error). */
  watch(redis: RedisClient, name: string): RedisClient {
    redis.on('error', (error: unknown) => this.failed(name, error, redis));
    redis.on('ready', () => this.recovered(name));
    return redis;
  }

  failed(name: string, error: unknown, redis?: RedisClient): void {
    const now = this.#now();
    const retry = redis ? { status: redis.status } : {};
    const outage = this.#outages.get(name);
    if (!outage) {
      this.#outages.set(name, { since: now, errors: 1, lastSummary: now, lastError: describe(error) });
      this.#logger.warn(
        { event: 'redis-connection-lost', connection: name, error: describe(error), ...retry },
        'Redis connection lost; retrying (one summary every %d s until it is back)',
        Math.round(this.#summaryEveryMs / 1000),
      );
      return;
    }
    outage.errors += 1;
    outage.lastError = describe(error);
    if (now - outage.lastSummary < this.#summaryEveryMs) return;
    outage.lastSummary = now;
    this.#logger.warn(
      {
        event: 'redis-connection-down',
        connection: name,
        downForMs: now - outage.since,
        errors: outage.errors,
        error: outage.lastError,
        ...retry,
      },
      'Redis connection still down; retrying',
    );
  }

  recovered(name: string): void {
    const outage = this.#outages.get(name);
    if (!outage) return;
    this.#outages.delete(name);
    this.#logger.info(
      {
        event: 'redis-connection-restored',
        connection: name,
        downForMs: this.#now() - outage.since,
        errors: outage.errors,
      },
      'Redis connection restored',
    );
  }
}
