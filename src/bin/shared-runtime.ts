// What every process shares, and all the bot gets: env and policy loaded once, one logger, Redis
// connections, the store, audit log, locks, scheduler, seal keys and the durable archive. Nothing here can
// write to a cluster or IAM: the bot's composition root imports this module and never ./runtime.ts (the
// worker's and the CLI's, which adds the cluster connections), and test/unit/architecture.test.ts keeps it so.

import { randomBytes } from 'node:crypto';
import { ChainedAuditLog } from '../adapters/audit-trail.js';
import type { AwsCredentials } from '../adapters/aws/eks-token.js';
import { s3ArchiveFor } from '../adapters/aws/s3-archive.js';
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
import { ARCHIVE_BUCKET_FIX, type Env, SEAL_KEYS_FIX } from '../config/env.js';
import { type LoadedPolicy, loadPolicyFile, resolvePolicyPath } from '../config/load.js';
import type { Policy } from '../config/policy.js';
import { type Clock, systemClock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import { misconfigured } from '../domain/errors.js';
import { parseSealKeys, type SealKeys } from '../domain/seal.js';
import type { DurableArchive } from '../ports/archive.js';
import type { AwsIdentityResolver } from '../ports/identity.js';

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
  /** Where the audit records' JSON lines go; stdout when omitted (the CLI: stderr, its log stream). */
  auditLine?: (line: string) => void;
}

/** What every role shares: RedisClient state and queues, no cluster or AWS write client. The bot gets this. */
export interface SharedRuntime {
  env: Env;
  policy: Policy;
  logger: Logger;
  clock: Clock;
  redis: RedisClient;
  store: RedisGrantStore;
  /** The chained audit trail: stdout, the archive and the Redis stream (adapters/audit-trail.ts). */
  audit: ChainedAuditLog;
  locks: RedisLocks;
  scheduler: BullScheduler;
  /** Rate-limited logging of lost Redis connections (every connection this process opens). */
  connectionLog: ConnectionLog;
  /** Notices an emptied Redis (bot and worker; the CLI does not watch). Hooks re-create what is needed. */
  epoch: RedisEpoch;
  /** The seal keys (SEAL_KEYS): the worker seals RoleBindings with them, the bot approved decisions. */
  seal: SealKeys;
  /** The durable archive (ARCHIVE_BUCKET): the single-use ledger and the audit trail beyond Redis. */
  archive: DurableArchive;
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

/**
 * Every role refuses to start without the archive: single use of a decision and the audit trail that
 * outlives Redis both live there.
 */
export function requireArchive(
  env: Omit<Parameters<typeof s3ArchiveFor>[0], 'ARCHIVE_BUCKET'> & Pick<Env, 'ARCHIVE_BUCKET'>,
  credentials?: AwsCredentials,
): DurableArchive {
  if (!env.ARCHIVE_BUCKET) throw misconfigured(`ARCHIVE_BUCKET is not set. ${ARCHIVE_BUCKET_FIX}`);
  return s3ArchiveFor({ ...env, ARCHIVE_BUCKET: env.ARCHIVE_BUCKET }, credentials);
}

/** The shared runtime; the bot's whole runtime. */
export async function createSharedRuntime(env: Env, options: RuntimeOptions): Promise<SharedRuntime> {
  const seal = requireSealKeys(env);
  const archive = requireArchive(env, options.awsCredentials);
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
  const scheduler = new BullScheduler(redis, prefix, clock, (error) =>
    isConnectionError(error)
      ? connectionLog.failed('main', error)
      : logger.error({ err: error }, 'queue error'),
  );
  const audit = auditTrailFor(env, options.role, {
    redis,
    archive,
    logger,
    ...(options.auditLine ? { writeLine: options.auditLine } : {}),
  });
  return {
    env,
    policy: loaded.policy,
    logger,
    clock,
    redis,
    store: new RedisGrantStore(redis, prefix),
    audit,
    locks: new RedisLocks(redis, prefix),
    scheduler,
    connectionLog,
    epoch,
    seal,
    archive,
    close: async () => {
      epoch.stop();
      await audit.close();
      await scheduler.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * This process's audit trail: a chain of its own (`<role>-<random>`, new on every start) on stdout, in
 * the archive and in the Redis stream (trimmed to AUDIT_STREAM_RETENTION).
 */
export function auditTrailFor(
  env: Pick<Env, 'REDIS_PREFIX' | 'AUDIT_STREAM_RETENTION'>,
  role: RuntimeRole,
  parts: { redis: RedisClient; archive: DurableArchive; logger: Logger; writeLine?: (line: string) => void },
): ChainedAuditLog {
  const retention = parseDuration(env.AUDIT_STREAM_RETENTION);
  return new ChainedAuditLog({
    redis: new RedisAuditLog(
      parts.redis,
      env.REDIS_PREFIX,
      retention ? { retentionMs: retention * 1000 } : {},
    ),
    archive: parts.archive,
    writer: `${role}-${randomBytes(6).toString('hex')}`,
    writeLine: parts.writeLine ?? ((line) => process.stdout.write(`${line}\n`)),
    logger: parts.logger,
  });
}
