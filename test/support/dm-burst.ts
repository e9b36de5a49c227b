// A burst of activations told through the real Slack outbox, against the fake Slack with its rate
// limits on: N people's grants become active at once and each must get the DM with the commands
// exactly once. Shared by the e2e test (Slack's limits sped up) and the bench (Slack's real rates).
// The engine is not run: the grants are stored as the worker leaves them and announced as it does
// (`activated`), so what is measured is Slack delivery alone.
import type { Redis } from 'ioredis';
import { createLogger } from '../../src/adapters/logger.js';
import { type SlackOutbox, slackOutbox } from '../../src/adapters/queue/slack-outbox.js';
import { RedisGrantStore } from '../../src/adapters/redis/grant-store.js';
import { parseEnv, parsePolicy } from '../../src/config/load.js';
import { systemClock } from '../../src/domain/clock.js';
import type { Grant } from '../../src/domain/grant.js';
import { activeBenchGrant } from './grants.js';
import { pollUntil } from './poll.js';
import { TEST_SEAL_KEYS } from './seal.js';
import { FakeSlack, type StoredMessage } from './slack/index.js';

export interface DmBurstResult {
  grants: number;
  speedup: number;
  /** From the first `activated` to the last requester's DM with the commands, in ms (real time). */
  lastDmMs: number;
  /** From the first `activated` to an empty outbox (every step delivered or given up), in ms. */
  drainedMs: number;
  /** Requesters whose DM with the commands arrived exactly once / not at all / more than once. */
  exactlyOnce: number;
  missing: number;
  duplicated: number;
  /** Audit lines in the audit channel (one per grant is due), and the posts that carried them. */
  auditLines: number;
  auditPosts: number;
  /** Distinct grants named by the audit lines (each should be named once). */
  auditedGrants: number;
  /** 429s the fake answered, by method. */
  refused: Record<string, number>;
  /** Web API calls that succeeded, by method. */
  accepted: Record<string, number>;
}

const COMMANDS = 'aws eks update-kubeconfig';

/**
 * Stores `grants` active grants of as many people, announces them all at once through a Slack outbox
 * and waits until every DM arrived and the outbox is empty (or `timeoutMs` passed).
 */
export async function dmBurst(options: {
  redis: Redis;
  redisUrl: string;
  grants: number;
  speedup: number;
  timeoutMs: number;
  /** Outbox consumers, as bot + worker run them (default 2). */
  consumers?: number;
}): Promise<DmBurstResult> {
  const tag = Math.random().toString(36).slice(2, 10);
  const people = Array.from({ length: options.grants }, (_, i) => i + 1);
  const prefix = `{burst-${tag}}:`;
  const now = systemClock.now();
  const slack = await FakeSlack.start({
    users: people.map((n) => ({ id: personId(n) })).concat([{ id: 'U0APPROVER' }]),
    channels: { CAPPROVALS: {}, CAUDIT: {} },
    rateLimits: { speedup: options.speedup },
  });
  // Each request's approval message was posted when it was asked for (before the burst).
  const grants: Grant[] = people.map((n) => ({
    ...activeBenchGrant(n, { accountId: '123456789012', cluster: 'dev', namespace: 'burst', now }),
    approvalMessage: slack.seedMessage('CAPPROVALS', `Access request of person ${n}`),
  }));
  const rig = await outboxRig({
    redis: options.redis,
    redisUrl: options.redisUrl,
    slack,
    prefix,
    approvers: ['U0APPROVER'],
    consumers: options.consumers ?? 2,
  });
  const { outboxes } = rig;
  for (const grant of grants) await rig.store.create(grant);
  const dmsTo = (user: string): StoredMessage[] =>
    slack.messages(`D${user.slice(1)}`).filter((m) => JSON.stringify(m.blocks ?? []).includes(COMMANDS));
  try {
    const started = performance.now();
    // As the engine announces activations: all at once, spread over the consumers' producers.
    await Promise.all(
      grants.map((g, i) => outboxes[i % outboxes.length]?.grantChanged(g, { kind: 'activated' })),
    );
    await pollUntil(
      'every requester to have the DM with the commands',
      async () => grants.filter((g) => dmsTo(g.requester.slackUserId).length === 0).length,
      (waiting) => waiting === 0,
      { timeoutMs: options.timeoutMs, intervalMs: 50 },
    );
    const lastDmMs = performance.now() - started;
    await pollUntil(
      'the outbox to drain',
      () => outboxes[0]?.pending() ?? Promise.resolve(0),
      (pending) => pending === 0,
      { timeoutMs: options.timeoutMs, intervalMs: 100 },
    );
    const drainedMs = performance.now() - started;
    const counts = grants.map((g) => dmsTo(g.requester.slackUserId).length);
    const audit = slack.messages('CAUDIT');
    const auditText = audit.map((m) => JSON.stringify(m.blocks ?? [])).join('\n');
    const refused: Record<string, number> = {};
    const accepted: Record<string, number> = {};
    for (const call of slack.calls) {
      const bucket =
        call.response['error'] === 'ratelimited' ? refused : call.response['ok'] ? accepted : undefined;
      if (bucket) bucket[call.method] = (bucket[call.method] ?? 0) + 1;
    }
    return {
      grants: grants.length,
      speedup: options.speedup,
      lastDmMs,
      drainedMs,
      exactlyOnce: counts.filter((c) => c === 1).length,
      missing: counts.filter((c) => c === 0).length,
      duplicated: counts.filter((c) => c > 1).length,
      auditLines: audit.reduce((n, m) => n + (m.blocks?.length ?? 0), 0),
      auditPosts: audit.length,
      auditedGrants: grants.filter((g) => auditText.includes(g.id)).length,
      refused,
      accepted,
    };
  } finally {
    await rig.close();
    await slack.close();
  }
}

export interface OutboxRig {
  store: RedisGrantStore;
  outboxes: SlackOutbox[];
  /** Stops the consumers and deletes every key under the prefix. */
  close(): Promise<void>;
}

/**
 * Slack outbox consumers as bot and worker compose them, on real Redis under `prefix`, for a policy
 * with one namespace `burst` on cluster `dev` (level `view`, `approvals` needed, approval channel
 * CAPPROVALS, audit channel CAUDIT) whose approvers are `approvers`.
 */
export async function outboxRig(options: {
  redis: Redis;
  redisUrl: string;
  slack: FakeSlack;
  prefix: string;
  approvers: readonly string[];
  approvals?: number;
  consumers?: number;
  /** The outbox's retry pacing (default: production's). */
  pacing?: { retryBaseMs?: number; homeDebounceMs?: number };
}): Promise<OutboxRig> {
  const { redis, slack, prefix } = options;
  const { policy } = parsePolicy(`
settings:
  auditChannel: CAUDIT
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h, approvals: ${options.approvals ?? 1} }
clusters:
  dev:
    region: eu-west-1
    accountId: "123456789012"
    connection: { kubeconfig: { path: /dev/null } }
    identityMapping: aws-auth
    namespaces:
      - name: burst
        approvers: { users: [${options.approvers.join(', ')}] }
        channel: CAPPROVALS
        levels: [view]
`);
  const env = parseEnv({
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_API_URL: slack.apiUrl,
    REDIS_URL: options.redisUrl,
    REDIS_PREFIX: prefix,
    SEAL_KEYS: TEST_SEAL_KEYS,
  });
  const logger = createLogger({ level: process.env['E2E_LOG_LEVEL'] ?? 'silent', name: 'outbox-rig' });
  const store = new RedisGrantStore(redis, prefix);
  const outboxes = Array.from({ length: options.consumers ?? 1 }, () =>
    slackOutbox(env, { policy, store, clock: systemClock, logger, redis }, options.pacing ?? {}),
  );
  return {
    store,
    outboxes,
    async close() {
      await Promise.all(outboxes.map((o) => o.close()));
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
    },
  };
}

/** activeBenchGrant's requester id of person `n`. */
const personId = (n: number): string => `U${String(n).padStart(9, '0')}`;
