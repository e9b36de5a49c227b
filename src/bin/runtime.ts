// The shared composition of bot, worker and CLI: env and policy loaded once, one logger, Redis
// connections, the store, audit log, locks and scheduler. Only the worker and the CLI also get cluster
// connections (the AWS and Kubernetes clients that write access) and the engine's deps: the bot's
// runtime has none, so the Slack-facing process cannot write to a cluster or IAM even if compromised.
// Each entry point adds only what is its own (Slack, workers, argument parsing) and calls close().
import type { AwsCredentials } from '../adapters/aws/eks-token.js';
import { identityResolverFor } from '../adapters/identity/aws-identity.js';
import type { AwsAuthLocation } from '../adapters/k8s/aws-auth.js';
import type { ClientInstrumentation } from '../adapters/k8s/cluster-connections.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { BullScheduler } from '../adapters/queue/bull-scheduler.js';
import { RedisAuditLog } from '../adapters/redis/audit-log.js';
import type { RedisClient } from '../adapters/redis/connection.js';
import { connectRedis } from '../adapters/redis/connection.js';
import { ConnectionLog, isConnectionError } from '../adapters/redis/connection-log.js';
import { RedisEpoch } from '../adapters/redis/epoch.js';
import { RedisGrantStore } from '../adapters/redis/grant-store.js';
import { RedisLocks } from '../adapters/redis/locks.js';
import { type Env, SEAL_KEYS_FIX } from '../config/env.js';
import { type LoadedPolicy, loadPolicyFile, resolvePolicyPath } from '../config/load.js';
import type { Policy } from '../config/policy.js';
import { type Clock, systemClock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import { misconfigured } from '../domain/errors.js';
import type { EndReason, Grant } from '../domain/grant.js';
import { parseSealKeys, type SealKeys } from '../domain/seal.js';
import type { ClusterConnections } from '../ports/cluster.js';
import type { AwsIdentityResolver } from '../ports/identity.js';
import type { Notifier } from '../ports/notifier.js';
import { endGrant } from '../services/end-grant.js';
import type { EngineDeps } from '../services/engine.js';
import { type ReconcileReport, reconcile } from '../services/reconcile.js';

export type RuntimeRole = 'bot' | 'worker' | 'cli';

export interface RuntimeOptions {
  role: RuntimeRole;
  /** The policy, when the caller already loaded it; else POLICY_FILE (or its defaults). */
  loaded?: LoadedPolicy;
  clock?: Clock;
  logger?: Logger;
  /** Tests: explicit AWS credentials and per-cluster aws-auth locations. */
  awsCredentials?: AwsCredentials;
  awsAuth?: Readonly<Record<string, AwsAuthLocation>>;
  /** Tests: who people are on AWS, when the policy file cannot name them in advance. */
  identity?: AwsIdentityResolver;
  /** Benchmarks: sees every AWS and Kubernetes client the cluster connections build. */
  instrument?: ClientInstrumentation;
}

/** What every role shares: RedisClient state and queues, no cluster or AWS write client. The bot gets this. */
export interface SharedRuntime {
  env: Env;
  policy: Policy;
  logger: Logger;
  clock: Clock;
  redis: RedisClient;
  store: RedisGrantStore;
  audit: RedisAuditLog;
  locks: RedisLocks;
  scheduler: BullScheduler;
  /** Rate-limited logging of lost Redis connections (every connection this process opens). */
  connectionLog: ConnectionLog;
  /** Notices an emptied Redis (bot and worker; the CLI does not watch). Hooks re-create what is needed. */
  epoch: RedisEpoch;
  /** The seal keys (SEAL_KEYS): the worker seals RoleBindings with them, the bot approved decisions. */
  seal: SealKeys;
  close(): Promise<void>;
}

/** The worker's and the CLI's runtime: the shared parts plus the clients that write access. */
export interface Runtime extends SharedRuntime {
  clusters: ClusterConnections;
  /** Everything the engine's services take, with this notifier. */
  engineDeps(notifier: Notifier): EngineDeps;
  /** The engine operations the CLI calls. */
  engine(notifier: Notifier): {
    endGrant(grantId: string, reason: EndReason, actor: string, note?: string): Promise<Grant>;
    reconcile(dryRun: boolean): Promise<ReconcileReport>;
  };
}

/**
 * Every role refuses to start without a seal key: a worker without one could not tell its own
 * RoleBindings from forged ones, a bot could not seal what approvers decided.
 */
export function requireSealKeys(env: Pick<Env, 'SEAL_KEYS'>): SealKeys {
  const parsed = parseSealKeys(env.SEAL_KEYS ?? '');
  if (!env.SEAL_KEYS || !parsed.keys) {
    throw misconfigured(`SEAL_KEYS is not set. ${SEAL_KEYS_FIX}`);
  }
  return parsed.keys;
}

export function createRuntime(env: Env, options: RuntimeOptions & { role: 'bot' }): Promise<SharedRuntime>;
export function createRuntime(
  env: Env,
  options: RuntimeOptions & { role: 'worker' | 'cli' },
): Promise<Runtime>;
export async function createRuntime(env: Env, options: RuntimeOptions): Promise<SharedRuntime | Runtime> {
  const seal = requireSealKeys(env);
  const loaded = options.loaded ?? loadPolicyFile(resolvePolicyPath(env));
  const logger = options.logger ?? createLogger({ level: env.LOG_LEVEL, name: `eks-access-${options.role}` });
  for (const warning of loaded.warnings) logger.warn({ source: loaded.source }, warning);
  const clock = options.clock ?? systemClock;
  // The CLI fails fast when Redis is down; long-running roles keep retrying.
  const redis = connectRedis(env, {
    lazyConnect: true,
    ...(options.role === 'cli' ? { maxRetriesPerRequest: 1 } : {}),
  });
  const connectionLog = new ConnectionLog(logger);
  connectionLog.watch(redis, 'main');
  await redis.connect();
  const prefix = env.REDIS_PREFIX;
  const epoch = new RedisEpoch(redis, prefix, logger);
  // Long-running roles check once per reconcile period and on every reconnect.
  if (options.role !== 'cli') await epoch.start((parseDuration(env.RECONCILE_INTERVAL) ?? 30) * 1000);
  const store = new RedisGrantStore(redis, prefix);
  const audit = new RedisAuditLog(redis, prefix);
  const locks = new RedisLocks(redis, prefix);
  const scheduler = new BullScheduler(redis, prefix, clock, (error) =>
    isConnectionError(error)
      ? connectionLog.failed('main', error)
      : logger.error({ err: error }, 'queue error'),
  );
  const shared: SharedRuntime = {
    env,
    policy: loaded.policy,
    logger,
    clock,
    redis,
    store,
    audit,
    locks,
    scheduler,
    connectionLog,
    epoch,
    seal,
    close: async () => {
      epoch.stop();
      await scheduler.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
  if (options.role === 'bot') return shared;
  // Loaded only by the roles that write access: client-node alone is ~60 MB of RSS the bot never needs.
  const { PolicyClusterConnections } = await import('../adapters/k8s/cluster-connections.js');
  const clusters = new PolicyClusterConnections({
    policy: loaded.policy,
    env,
    clock,
    ...(options.awsCredentials ? { credentials: options.awsCredentials } : {}),
    ...(options.awsAuth ? { awsAuth: options.awsAuth } : {}),
    ...(options.instrument ? { instrument: options.instrument } : {}),
  });
  // The worker re-checks who the requester is before it writes (the same resolver the bot asks).
  const identity = options.identity ?? identityResolverFor(loaded.policy, env, options.awsCredentials);
  const engineDeps = (notifier: Notifier): EngineDeps => ({
    store,
    audit,
    scheduler,
    notifier,
    locks,
    clock,
    clusters,
    policy: loaded.policy,
    logger,
    seal,
    identity,
  });
  return {
    ...shared,
    clusters,
    engineDeps,
    engine: (notifier) => {
      const deps = engineDeps(notifier);
      return {
        endGrant: (grantId, reason, actor, note) => endGrant(deps, grantId, reason, actor, note),
        reconcile: (dryRun) => reconcile(deps, { dryRun }),
      };
    },
  };
}

/** For roles without chat (CLI, a worker without Slack settings): state changes go to the log only. */
export function logNotifier(logger: Logger): Notifier {
  return {
    grantChanged: async (grant, event) => {
      logger.info({ grantId: grant.id, status: grant.status, event: event.kind }, 'grant changed');
    },
  };
}
