// After Redis lost its data, people still see what they hold: a sealed live RoleBinding whose grant
// Redis does not know becomes a `rebuilt` record again (domain/rebuilt-grant.ts), so `list`, `done`,
// App Home and the end announcement work. Only a binding whose seal also covers the requester is
// rebuilt (older bindings name the requester in an unsealed annotation: they run out as before).
// The record can only end; nothing here writes to a cluster or IAM.
import { isAccessError } from '../domain/errors.js';
import { rebuiltGrant, type SealedGrantFacts } from '../domain/rebuilt-grant.js';
import { sealedRequesterOf } from '../domain/seal.js';
import type { ManagedBinding } from '../ports/cluster.js';
import { audit } from '../shared/grant-records.js';
import { scheduleExpiry } from './activate.js';
import type { EngineDeps } from './deps.js';
import type { ReconcileReport } from './reconcile.js';

/** Rebuilds the record of `binding`'s grant (sealed, live, unknown to Redis); audited `grant-rebuilt`. */
export async function rebuildGrant(
  deps: EngineDeps,
  report: ReconcileReport,
  cluster: string,
  binding: ManagedBinding,
): Promise<void> {
  const requester = sealedRequesterOf(deps.seal, cluster, binding);
  if (!requester) return;
  await rebuildFrom(deps, report, { ...binding, cluster, requester }, 'role-binding');
}

/**
 * Rebuilds a record from facts a seal proved (a RoleBinding's, or an access-policy grant's tag on its
 * access entry, engine/reconcile-access-policies.ts), requester included.
 */
export async function rebuildFrom(
  deps: EngineDeps,
  report: ReconcileReport,
  facts: SealedGrantFacts,
  from: 'role-binding' | 'access-entry-tag',
): Promise<void> {
  const { cluster, requester } = facts;
  report.grantsRebuilt.push({ cluster, grantId: facts.grantId, requester });
  if (report.dryRun) return;
  const grant = rebuiltGrant(
    {
      grantId: facts.grantId,
      cluster,
      namespace: facts.namespace,
      level: facts.level,
      username: facts.username,
      principalArn: facts.principalArn,
      requester,
      expiresAt: facts.expiresAt,
    },
    deps.clock.now(),
    from,
  );
  try {
    await deps.store.create(grant);
  } catch (error) {
    // Another sweep (or the grant's own activation, racing a half-restored Redis) wrote it first.
    if (isAccessError(error) && error.kind === 'conflict') return;
    throw error;
  }
  await audit(deps, grant, 'grant-rebuilt', 'system', {
    from,
    requester,
    username: grant.requester.kubernetesUsername,
    principalArn: grant.requester.principalArn,
    expiresAt: new Date(facts.expiresAt).toISOString(),
  });
  // The revoke job at the sealed expiry, and the warning before it: the end is announced as for any grant.
  await scheduleExpiry(deps, grant);
  deps.logger.warn(
    { event: 'grant-rebuilt', grantId: grant.id, cluster, namespace: grant.namespace, from },
    'a live grant unknown to Redis was rebuilt from its sealed record on the cluster',
  );
}
