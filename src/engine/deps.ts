// What the engine's use cases run with: the record ports (RecordDeps) plus the clients that write to
// clusters and IAM, the seal keys and the durable archive, which only the worker (and the CLI) hold.

import type { Policy } from '../config/policy.js';
import type { SealKeys } from '../domain/seal.js';
import type { DurableArchive } from '../ports/archive.js';
import type { ClusterConnections } from '../ports/cluster.js';
import type { AwsIdentityResolver } from '../ports/identity.js';
import type { Locks } from '../ports/lock.js';
import type { RecordDeps } from '../shared/grant-records.js';

/** Named points between side effects; tests use them to stop a worker mid-grant (a crash). */
export type EngineStep = 'role-binding' | 'identity' | 'verified' | 'revoke-binding';

export interface EngineDeps extends RecordDeps {
  locks: Locks;
  clusters: ClusterConnections;
  policy: Policy;
  /** Seals the RoleBindings the worker writes; verifies found ones and approved decisions. */
  seal: SealKeys;
  /** Who a Slack user is on AWS now: activation re-checks the requester's principal with it. */
  identity: AwsIdentityResolver;
  /**
   * The durable archive: the spent ledger (engine/ledger.ts) that makes decisions and extension claims
   * single-use and ends final, whatever Redis says; and the break-glass index the reconciler restores counts
   * from after Redis lost its data. Only the worker (and the CLI) hold it here.
   */
  archive: DurableArchive;
  /** Names this process in ledger records (the composition root: host and pid). */
  workerId?: string;
  /**
   * Told when a revocation's login probe was not refused in time (the role is kept, the grant stays
   * `revoking`, and the revocation is retried): the worker counts it (`eks_access_revocations_unproven_total`, alert EksAccessRevocationUnproven).
   */
  onRevocationUnproven?: (roleArn: string) => void;
  /** Called after each step; never set in production. */
  afterStep?: (step: EngineStep, grantId: string) => Promise<void>;
}

export const step = async (deps: EngineDeps, name: EngineStep, grantId: string) => {
  if (deps.afterStep) await deps.afterStep(name, grantId);
};
