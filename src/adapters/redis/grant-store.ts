// GrantStore on Redis. Each grant is one JSON value; status and requester indexes move in the same
// Lua script as the value, so a compare-and-set either happens whole or not at all.
// Keys share one hash tag (the prefix), so the store also works on Redis Cluster. Every write stamps the
// record format's version (`v`, domain/formats.ts), keeping a newer one an upgraded worker wrote: a
// rolled-back worker must not relabel a record whose fields it does not know as its own format.
import { AccessError, conflict } from '../../domain/errors.js';
import { formatVersionOf, GRANT_RECORD_VERSION } from '../../domain/formats.js';
import type { Grant, GrantStatus } from '../../domain/grant.js';
import type { GrantStore } from '../../ports/grant-store.js';
import type { RedisClient } from './connection.js';

// KEYS[1] grant key, KEYS[2] old status set, KEYS[3] new status set, KEYS[4] requester index
// ARGV[1] expected version (-1: must not exist), ARGV[2] json, ARGV[3] id, ARGV[4] createdAt
const CAS_SCRIPT = `
local current = redis.call('GET', KEYS[1])
local expected = tonumber(ARGV[1])
if expected == -1 then
  if current then return 0 end
else
  if not current then return 0 end
  local stored = cjson.decode(current)
  if tonumber(stored['version']) ~= expected then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
if KEYS[2] ~= KEYS[3] then redis.call('SREM', KEYS[2], ARGV[3]) end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
return 1
`;

/** Grants per MGET when reading many (a reconcile pass reads every live one). */
const MGET_SLICE = 500;

export class RedisGrantStore implements GrantStore {
  readonly #redis: RedisClient;
  readonly #prefix: string;

  /** `prefix` should contain a hash tag, e.g. `{eks-access}:`. */
  constructor(redis: RedisClient, prefix: string) {
    this.#redis = redis;
    this.#prefix = prefix;
  }

  #grantKey = (id: string) => `${this.#prefix}grant:${id}`;
  #statusKey = (status: GrantStatus) => `${this.#prefix}status:${status}`;
  #requesterKey = (slackUserId: string) => `${this.#prefix}requester:${slackUserId}`;

  async create(grant: Grant): Promise<void> {
    const written = await this.#cas(grant, -1, grant.status);
    if (!written) throw conflict(`Request ${grant.id} already exists`);
  }

  async get(id: string): Promise<Grant | undefined> {
    const json = await this.#call(() => this.#redis.get(this.#grantKey(id)));
    return json ? (JSON.parse(json) as Grant) : undefined;
  }

  async replace(next: Grant): Promise<boolean> {
    const previous = await this.get(next.id);
    if (!previous || previous.version !== next.version - 1) return false;
    return this.#cas(next, previous.version, previous.status);
  }

  async listByRequester(slackUserId: string, limit = 50): Promise<Grant[]> {
    const ids = await this.#call(() => this.#redis.zrevrange(this.#requesterKey(slackUserId), 0, limit - 1));
    return this.#getMany(ids);
  }

  async listByStatus(statuses: readonly GrantStatus[]): Promise<Grant[]> {
    const ids = (
      await Promise.all(statuses.map((s) => this.#call(() => this.#redis.smembers(this.#statusKey(s)))))
    ).flat();
    const grants = await this.#getMany(ids);
    return grants.filter((g) => statuses.includes(g.status)).sort((a, b) => b.createdAt - a.createdAt);
  }

  async countByStatus(status: GrantStatus): Promise<number> {
    return this.#call(() => this.#redis.scard(this.#statusKey(status)));
  }

  /**
   * MGET in slices: one MGET of 10 000 grants held the whole reply (~10 MB) and every JSON string at once
   * before the first was parsed, on top of the parsed grants; a slice's strings are garbage once parsed.
   */
  async #getMany(ids: string[]): Promise<Grant[]> {
    const grants: Grant[] = [];
    for (let i = 0; i < ids.length; i += MGET_SLICE) {
      const keys = ids.slice(i, i + MGET_SLICE).map(this.#grantKey);
      const values = await this.#call(() => this.#redis.mget(keys));
      for (const v of values) if (v !== null) grants.push(JSON.parse(v) as Grant);
    }
    return grants;
  }

  async #cas(grant: Grant, expectedVersion: number, previousStatus: GrantStatus): Promise<boolean> {
    const result = await this.#call(() =>
      this.#redis.eval(
        CAS_SCRIPT,
        4,
        this.#grantKey(grant.id),
        this.#statusKey(previousStatus),
        this.#statusKey(grant.status),
        this.#requesterKey(grant.requester.slackUserId),
        String(expectedVersion),
        JSON.stringify({ ...grant, v: Math.max(formatVersionOf(grant), GRANT_RECORD_VERSION) }),
        grant.id,
        String(grant.createdAt),
      ),
    );
    return result === 1;
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      throw new AccessError('unavailable', 'Redis did not answer', { cause: error });
    }
  }
}
