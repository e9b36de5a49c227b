// After Redis lost its data, people still see what they hold: a sealed live RoleBinding whose grant
// Redis does not know becomes a `rebuilt` record again (domain/rebuilt-grant.ts), so `list`, `done`,
// App Home and the end announcement work. Only a binding whose seal also covers the requester is
// rebuilt (older bindings name the requester in an unsealed annotation: they run out as before).
// The record can only end; nothing here writes to a cluster or IAM.
import { isAccessError } from '../domain/errors.js';
import { rebuiltGrant } from '../domain/rebuilt-grant.js';
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
  report.grantsRebuilt.push({ cluster, grantId: binding.grantId, requester });
  if (report.dryRun) return;
  const grant = rebuiltGrant(
    {
      grantId: binding.grantId,
      cluster,
      namespace: binding.namespace,
      level: binding.level,
      username: binding.username,
      principalArn: binding.principalArn,
      requester,
      expiresAt: binding.expiresAt,
    },
    deps.clock.now(),
  );
  try {
    await deps.store.create(grant);
  } catch (error) {
    // Another sweep (or the grant's own activation, racing a half-restored Redis) wrote it first.
    if (isAccessError(error) && error.kind === 'conflict') return;
    throw error;
  }
  await audit(deps, grant, 'grant-rebuilt', 'system', {
    from: 'role-binding',
    requester,
    username: grant.requester.kubernetesUsername,
    principalArn: grant.requester.principalArn,
    expiresAt: new Date(binding.expiresAt).toISOString(),
  });
  // The revoke job at the sealed expiry, and the warning before it: the end is announced as for any grant.
  await scheduleExpiry(deps, grant);
  deps.logger.warn(
    { event: 'grant-rebuilt', grantId: grant.id, cluster, namespace: grant.namespace },
    'a live grant unknown to Redis was rebuilt from its sealed RoleBinding',
  );
}
