// The audit trail as a Redis stream (`<prefix>audit`). Stream ids are time-ordered, so reading
// "since T" is an XRANGE from T. Fields: action, actor, grantId, at, details (JSON).
import { AccessError } from '../../domain/errors.js';
import type { AuditEvent, AuditLog } from '../../ports/audit-log.js';
import type { RedisClient } from './connection.js';

const ONCE_TTL_S = 90 * 86_400;

export class RedisAuditLog implements AuditLog {
  readonly #redis: RedisClient;
  readonly #key: string;

  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#key = `${prefix}audit`;
  }

  async append(event: AuditEvent): Promise<void> {
    try {
      await this.#redis.xadd(
        this.#key,
        '*',
        'action',
        event.action,
        'actor',
        event.actor,
        'grantId',
        event.grantId,
        'at',
        String(event.at),
        'details',
        JSON.stringify(event.details ?? {}),
      );
    } catch (error) {
      throw new AccessError('unavailable', 'Redis did not accept the audit event', { cause: error });
    }
  }

  async appendOnce(event: AuditEvent, onceKey: string): Promise<boolean> {
    let first: string | null;
    try {
      first = await this.#redis.set(`${this.#key}:once:${onceKey}`, String(event.at), 'EX', ONCE_TTL_S, 'NX');
    } catch (error) {
      throw new AccessError('unavailable', 'Redis did not accept the audit event', { cause: error });
    }
    if (first !== 'OK') return false;
    await this.append(event);
    return true;
  }

  async read(options: { since?: number; grantId?: string; limit?: number }): Promise<AuditEvent[]> {
    const limit = options.limit ?? 10_000;
    const start = options.since === undefined ? '-' : String(options.since);
    const entries = await this.#redis.xrange(
      this.#key,
      start,
      '+',
      'COUNT',
      options.grantId ? 100_000 : limit,
    );
    const events = entries.map(([, fields]) => toEvent(fields));
    return (options.grantId ? events.filter((e) => e.grantId === options.grantId) : events).slice(0, limit);
  }
}

function toEvent(fields: string[]): AuditEvent {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] as string, fields[i + 1] as string);
  const details = JSON.parse(map.get('details') ?? '{}') as Record<string, string | number | boolean>;
  return {
    action: map.get('action') ?? '',
    actor: map.get('actor') ?? '',
    grantId: map.get('grantId') ?? '',
    at: Number(map.get('at') ?? 0),
    ...(Object.keys(details).length > 0 ? { details } : {}),
  };
}
