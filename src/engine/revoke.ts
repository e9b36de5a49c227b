// Revocation: from `revoking` (or `active` past its expiry) to a terminal state, removing every trace
// the grant left and checking with the API server that the access is gone.
import { isoTime } from '../domain/clock.js';
import { type AccessError, toAccessError } from '../domain/errors.js';
import { endStatusFor, type Grant, transition } from '../domain/grant.js';
import { keptRoleName, personalRoleName, roleBindingName } from '../domain/names.js';
import { planGrant } from '../domain/plan.js';
import type { ClusterBackends, ManagedBinding } from '../ports/cluster.js';
import { audit, changeGrant, notifySafely, updateGrant } from '../shared/grant-records.js';
import { removePolicyGrant } from './access-policy-grants.js';
import { type EngineDeps, step } from './deps.js';
import {
  type IdentitySync,
  isUnprovenRevocation,
  type Person,
  syncIdentity,
  withIdentityLock,
} from './identity-sync.js';
import { endedThen } from './ledger.js';
import { checksFor, verifyGone } from './verify.js';

/** What one grant left on a cluster, as known from Redis or from its RoleBinding alone. */
export interface GrantTrace extends Person {
  grantId: string;
  namespace: string;
  /** The Role we keep for the level, when the level has inline rules. */
  keptRole?: string;
}

export const traceOf = (grant: Grant, deps: Pick<EngineDeps, 'policy'>): GrantTrace => ({
  grantId: grant.id,
  cluster: grant.cluster,
  namespace: grant.namespace,
  username: grant.requester.kubernetesUsername,
  principalArn: grant.requester.principalArn,
  // A level that left the policy may have had rules: try its kept Role too (deleted only when unused).
  ...(deps.policy.levels[grant.level]?.clusterRole ? {} : { keptRole: keptRoleName(grant.level) }),
});

/**
 * Removes a grant's RoleBinding, its kept Role when nothing else binds it, and then (under the
 * person's lock) shrinks or tears down the shared identity. Idempotent: safe to repeat after a crash.
 * Returns what the identity step found: the person's other sealed live bindings.
 */
export async function removeTrace(
  deps: EngineDeps,
  backends: ClusterBackends,
  trace: GrantTrace,
): Promise<IdentitySync> {
  // A cluster of access-policy levels holds nothing of ours in Kubernetes: the entry says it all.
  if (backends.accessPolicies) return removePolicyGrant(deps, backends, trace);
  await backends.rbac.deleteRoleBinding(trace.namespace, roleBindingName(trace.grantId));
  const { keptRole } = trace;
  // No lock: the delete is conditional on the Role read (see ClusterRbac.deleteRoleIfUnused). A Role
  // the platform team applies (settings.keptRoles: applied-by-admin) is theirs: never deleted, and the
  // worker holds no right to.
  if (keptRole && deps.policy.settings.keptRoles === 'written-by-worker') {
    await backends.rbac.deleteRoleIfUnused(trace.namespace, keptRole);
  }
  await step(deps, 'revoke-binding', trace.grantId);
  return withIdentityLock(deps, trace, () =>
    syncIdentity(deps, backends, trace, { ignoreGrantId: trace.grantId, mode: 'take-away' }),
  );
}

/** The revoke job. Returns the grant as it ends up (undefined when Redis does not know it). */
export async function revokeGrant(deps: EngineDeps, grantId: string): Promise<Grant | undefined> {
  let grant = await deps.store.get(grantId);
  if (!grant) return undefined;
  if (grant.status === 'active') {
    // A revoke job for an active grant that is not yet due is stale: an extension moved the expiry.
    if ((grant.expiresAt ?? 0) > deps.clock.now()) return grant;
    grant = await updateGrant(deps, grantId, (current) =>
      current.status === 'active' && (current.expiresAt ?? 0) <= deps.clock.now()
        ? transition(current, 'revoking', { endReason: 'expired', endedBy: 'system' })
        : undefined,
    );
  }
  if (grant.status !== 'revoking') return grant;
  const revoking = grant;
  // Final from here, whatever Redis says later: recorded in the ledger before anything is removed or
  // reported (the access is removed even while the archive is unreachable; the job then retries).
  const end = { reason: revoking.endReason ?? 'revoked', by: revoking.endedBy ?? 'system' };
  await endedThen(deps, revoking, end, async () => {
    const backends = await deps.clusters.forCluster(revoking.cluster).catch((error: unknown) => {
      // not_found: the cluster left the policy, so there is no connection to it any more.
      if (toAccessError(error).kind === 'not_found') return undefined;
      throw error;
    });
    if (backends) {
      const { needed: others } = await removeTrace(deps, backends, traceOf(revoking, deps)).catch(
        async (error: unknown) => {
          // The grant stays `revoking` and the job is retried; its trail says why, each time.
          if (isUnprovenRevocation(error)) await auditUnproven(deps, revoking, toAccessError(error));
          throw error;
        },
      );
      await verifyRevoked(deps, backends, revoking, others);
    } else {
      await reportUnreachable(deps, revoking);
    }
  });

  const { grant: ended, changed } = await changeGrant(deps, grantId, (current) =>
    current.status === 'revoking'
      ? transition(current, endStatusFor(current.endReason ?? 'revoked'), { endedAt: deps.clock.now() })
      : undefined,
  );
  // Only the writer of the terminal state announces it (the revoke job and the reconciler race here).
  if (changed) {
    await audit(deps, ended, ended.status, ended.endedBy ?? 'system', {
      endedAt: isoTime(ended.endedAt ?? 0),
    });
    await notifySafely(deps, ended, { kind: 'ended' });
  }
  return ended;
}

/**
 * The grant's cluster left the policy, so there is no connection to remove anything with. The grant
 * still ends (a revocation that can never finish would be retried for ever and hide real ones); what
 * is left behind is named in an audit event and the log for an admin. AWS still ends the personal
 * role's trust at the grant's expiry on its own (its time condition).
 */
async function reportUnreachable(deps: EngineDeps, grant: Grant): Promise<void> {
  const leftovers = {
    why: `cluster ${grant.cluster} is no longer in the policy`,
    roleBinding: `${grant.namespace}/${roleBindingName(grant.id)}`,
    personalRole: personalRoleName(grant.cluster, grant.requester.principalArn),
    trustEnds: isoTime(grant.expiresAt ?? deps.clock.now()),
  };
  deps.logger.error(
    { grantId: grant.id, ...leftovers },
    'revocation could not reach the cluster; remove by hand',
  );
  await audit(deps, grant, 'revoke-incomplete', 'system', leftovers);
}

/** A revocation the cluster did not refuse yet: what still got in, for security to read with the grant. */
async function auditUnproven(deps: EngineDeps, grant: Grant, error: AccessError): Promise<void> {
  const { role, last, attempts } = error.details;
  await audit(deps, grant, 'revoke-unproven', 'system', {
    personalRole: String(role),
    stillGotIn: String(last ?? error.message),
    attempts: Number(attempts ?? 0),
  });
}

/**
 * After revocation the level's permissions must be gone, unless another live grant still gives them
 * (`others`: the person's other sealed live bindings, as the identity step read them after the delete).
 */
async function verifyRevoked(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  others: readonly ManagedBinding[],
): Promise<void> {
  const level = deps.policy.levels[grant.level];
  if (!level || !deps.policy.clusters[grant.cluster]) return;
  // Access policies: removePolicyGrant read the association back; a retired entry was proven refused by
  // the login probe. There is no Kubernetes access to ask a SubjectAccessReview with.
  if (backends.accessPolicies) return;
  const username = grant.requester.kubernetesUsername;
  if (others.some((b) => b.namespace === grant.namespace)) return;
  const plan = planGrant({ policy: deps.policy, grant, expiresAt: grant.expiresAt ?? deps.clock.now() });
  await verifyGone(deps, backends, username, await checksFor(backends, plan, level));
}
