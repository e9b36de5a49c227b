// The shared composition of bot, worker and CLI: env and policy loaded once, one logger, Redis
// connections, the store, audit log, locks, scheduler and cluster connections, and the engine's deps.
// Each entry point adds only what is its own (Slack, workers, argument parsing) and calls close().
import { Redis } from 'ioredis';
import type { AwsCredentials } from '../adapters/aws/eks-token.js';
import { identityResolverFor } from '../adapters/identity/aws-identity.js';
import type { AwsAuthLocation } from '../adapters/k8s/aws-auth.js';
import { type ClientInstrumentation, PolicyClusterConnections } from '../adapters/k8s/cluster-connections.js';
import { createLogger, type Logger } from '../adapters/logger.js';
import { BullScheduler } from '../adapters/queue/bull-scheduler.js';
import { RedisAuditLog } from '../adapters/redis/audit-log.js';
import { RedisGrantStore } from '../adapters/redis/grant-store.js';
import { RedisLocks } from '../adapters/redis/locks.js';
import { type Env, SEAL_KEYS_FIX } from '../config/env.js';
import { type LoadedPolicy, loadPolicyFile, resolvePolicyPath } from '../config/load.js';
import type { Policy } from '../config/policy.js';
import { type Clock, systemClock } from '../domain/clock.js';
import { misconfigured } from '../domain/errors.js';
import type { EndReason, Grant } from '../domain/grant.js';
import { parseSealKeys, type SealKeys } from '../domain/seal.js';
import type { ClusterConnections } from '../ports/cluster.js';
import type { AwsIdentityResolver } from '../ports/identity.js';
import type { Notifier } from '../ports/notifier.js';
import { endGrant } from '../services/end-grant.js';
import type { EngineDeps } from '../services/engine.js';
import { applyExtension } from '../services/extend-grant.js';
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

export interface Runtime {
  env: Env;
  policy: Policy;
  logger: Logger;
  clock: Clock;
  redis: Redis;
  store: RedisGrantStore;
  audit: RedisAuditLog;
  locks: RedisLocks;
  scheduler: BullScheduler;
  clusters: ClusterConnections;
  /** The seal keys (SEAL_KEYS): the worker seals RoleBindings with them, the bot approved decisions. */
  seal: SealKeys;
  /** Everything the engine's services take, with this notifier. */
  engineDeps(notifier: Notifier): EngineDeps;
  /** The engine operations the Slack flow and the CLI call. */
  engine(notifier: Notifier): {
    endGrant(grantId: string, reason: EndReason, actor: string): Promise<Grant>;
    applyExtension(grantId: string, seconds: number, actor: string, auto: boolean): Promise<Grant>;
    reconcile(dryRun: boolean): Promise<ReconcileReport>;
  };
  close(): Promise<void>;
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

export async function createRuntime(env: Env, options: RuntimeOptions): Promise<Runtime> {
  const seal = requireSealKeys(env);
  const loaded = options.loaded ?? loadPolicyFile(resolvePolicyPath(env));
  const logger = options.logger ?? createLogger({ level: env.LOG_LEVEL, name: `eks-access-${options.role}` });
  for (const warning of loaded.warnings) logger.warn({ source: loaded.source }, warning);
  const clock = options.clock ?? systemClock;
  // The CLI fails fast when Redis is down; long-running roles keep retrying.
  const redis = new Redis(env.REDIS_URL, {
    lazyConnect: true,
    ...(options.role === 'cli' ? { maxRetriesPerRequest: 1 } : {}),
  });
  await redis.connect();
  const prefix = env.REDIS_PREFIX;
  const store = new RedisGrantStore(redis, prefix);
  const audit = new RedisAuditLog(redis, prefix);
  const locks = new RedisLocks(redis, prefix);
  const scheduler = new BullScheduler(redis, prefix, clock);
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
    env,
    policy: loaded.policy,
    logger,
    clock,
    redis,
    store,
    audit,
    locks,
    scheduler,
    clusters,
    seal,
    engineDeps,
    engine: (notifier) => {
      const deps = engineDeps(notifier);
      return {
        endGrant: (grantId, reason, actor) => endGrant(deps, grantId, reason, actor),
        applyExtension: (grantId, seconds, actor, auto) =>
          applyExtension(deps, grantId, seconds, actor, auto),
        reconcile: (dryRun) => reconcile(deps, { dryRun }),
      };
    },
    close: async () => {
      await scheduler.close();
      await redis.quit().catch(() => redis.disconnect());
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
