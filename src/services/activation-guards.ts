// What activation asks the live cluster before its first write, beyond what the policy alone can
// tell: is the level's ClusterRole really as harmless as the policy says, and is the person's
// Kubernetes username theirs alone? Both only ever refuse; neither can create or widen access.
import { type LevelPolicy, privilegeReasons } from '../config/policy.js';
import { assertUniqueIdentity } from '../domain/decisions.js';
import { misconfigured } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import type { ClusterBackends, ManagedBinding } from '../ports/cluster.js';

/**
 * Why this ClusterRole, as it is on the cluster now, makes a level privileged (empty when it does
 * not, or when it does not exist). Aggregated ClusterRoles (admin, edit, view and any with an
 * aggregationRule) are read with the rules the controller has aggregated into them.
 */
export async function liveClusterRoleReasons(
  backends: ClusterBackends,
  clusterRole: string,
): Promise<string[]> {
  const rules = await backends.rbac.clusterRoleRules(clusterRole);
  return rules ? privilegeReasons({ clusterRole, rules }) : [];
}

/**
 * Refuses (misconfigured: an admin must act; forbidden for a username collision) before anything is
 * written. Cluster state read here can only stop a grant, never make one.
 */
export async function assertSafeToActivate(
  backends: ClusterBackends,
  grant: Grant,
  level: LevelPolicy,
  isOurs: (binding: ManagedBinding) => boolean,
): Promise<void> {
  if (level.clusterRole && !level.privileged) {
    const reasons = await liveClusterRoleReasons(backends, level.clusterRole);
    if (reasons.length > 0) {
      throw misconfigured(
        `Level ${grant.level} binds ClusterRole ${level.clusterRole}, which on ${grant.cluster} is privileged: ${reasons.join('; ')}`,
        `An admin has to mark levels.${grant.level} privileged: true (it then needs more approvals), or take those rules out of the ClusterRole and of every ClusterRole aggregated into it. Nothing was granted.`,
        { clusterRole: level.clusterRole },
      );
    }
  }
  const bindings = await backends.rbac.listBindings();
  assertUniqueIdentity(
    {
      cluster: grant.cluster,
      principalArn: grant.requester.principalArn,
      username: grant.requester.kubernetesUsername,
    },
    // Only bindings the worker provably wrote: a look-alike must not be able to block someone either.
    bindings
      .filter((b) => b.grantId !== grant.id && isOurs(b))
      .map((b) => ({
        principalArn: b.principalArn,
        username: b.username,
        source: `RoleBinding ${b.namespace}/${b.name}`,
      })),
  );
}
