// The worker's and the CLI's runtime: the shared one (./shared-runtime.ts, all the bot gets) plus the cluster
// connections (the AWS and Kubernetes clients that write access) and the engine's deps. The bot never imports
// this module, so the Slack-facing process holds no client that could write to a cluster or IAM even if
// compromised (test/unit/architecture.test.ts). Tests may build any role through createRuntime.

import { hostname } from 'node:os';
import { identityResolverFor } from '../adapters/identity/aws-identity.js';
import type { Logger } from '../adapters/logger.js';
import type { Env } from '../config/env.js';
import type { EndReason, Grant } from '../domain/grant.js';
import type { EngineDeps } from '../engine/deps.js';
import { type ReconcileReport, reconcile } from '../engine/reconcile.js';
import type { ClusterConnections } from '../ports/cluster.js';
import type { Notifier } from '../ports/notifier.js';
import { endGrant } from '../shared/end-grant.js';
import { createSharedRuntime, type RuntimeOptions, type SharedRuntime } from './shared-runtime.js';

export {
  createSharedRuntime,
  type RuntimeOptions,
  type RuntimeRole,
  requireArchive,
  requireSealKeys,
  type SharedRuntime,
} from './shared-runtime.js';

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

export function createRuntime(env: Env, options: RuntimeOptions & { role: 'bot' }): Promise<SharedRuntime>;
export function createRuntime(
  env: Env,
  options: RuntimeOptions & { role: 'worker' | 'cli' },
): Promise<Runtime>;
export async function createRuntime(env: Env, options: RuntimeOptions): Promise<SharedRuntime | Runtime> {
  const shared = await createSharedRuntime(env, options);
  const { store, audit, scheduler, locks, clock, logger, seal, archive } = shared;
  const loaded = { policy: shared.policy };
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
    archive,
    workerId: `${hostname()}/${process.pid}`,
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
