// What activation asks the live cluster before its first write, beyond what the policy alone can
// tell: is the level's ClusterRole really as harmless as the policy says, and is the person's
// Kubernetes username theirs alone? Both only ever refuse; neither can create or widen access.
import { type KeptRolesMode, type LevelPolicy, type PolicyRule, privilegeReasons } from '../config/policy.js';
import { sameRules } from '../domain/bot-permissions.js';
import { assertUniqueIdentity } from '../domain/decisions.js';
import { misconfigured } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { keptRoleName } from '../domain/names.js';
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
 * The kept Role the platform team applies must be there and say exactly what the policy says: a missing
 * one would grant nothing, a wider one more than approvers saw. The worker never writes it (it may not).
 */
async function assertKeptRoleApplied(
  backends: ClusterBackends,
  grant: Grant,
  rules: readonly PolicyRule[],
): Promise<void> {
  const name = keptRoleName(grant.level);
  const live = await backends.rbac.roleRules(grant.namespace, name);
  const apply = `An admin applies the kept Roles from \`eks-access rbac render --cluster ${grant.cluster}\` (or \`--kept-roles-in ${grant.namespace}\`) with kubectl apply. Nothing was granted.`;
  if (!live) {
    throw misconfigured(
      `Role ${grant.namespace}/${name} for level ${grant.level} is not on ${grant.cluster}`,
      apply,
      {
        role: name,
      },
    );
  }
  if (!sameRules(live, rules)) {
    throw misconfigured(
      `Role ${grant.namespace}/${name} on ${grant.cluster} differs from levels.${grant.level}.rules in the policy`,
      apply,
      { role: name },
    );
  }
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
  keptRoles: KeptRolesMode,
): Promise<void> {
  if (level.rules && keptRoles === 'applied-by-admin')
    await assertKeptRoleApplied(backends, grant, level.rules);
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
