// The platform team's step in the default mode (settings.keptRoles: applied-by-admin): apply the kept
// Roles `eks-access rbac render` prints, as an admin, before the worker can grant a level with rules.
import { type KubeConfig, RbacAuthorizationV1Api, type V1Role } from '@kubernetes/client-node';
import type { Policy } from '../../src/config/policy.js';
import { keptRolesIn, renderWorkerRbac } from '../../src/domain/bot-permissions.js';
import { namespaceMatches } from '../../src/domain/decisions.js';

/**
 * Creates (or replaces) the kept Roles of every cluster in the policy, in its listed namespaces and in
 * `alsoIn` (namespaces a pattern like team-* offers, which the render cannot list). Nothing to do with
 * keptRoles: written-by-worker (the render has no kept Roles then).
 */
export async function applyKeptRoles(
  admin: KubeConfig,
  policy: Policy,
  alsoIn: readonly string[] = [],
): Promise<void> {
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  for (const [name, cluster] of Object.entries(policy.clusters)) {
    const roles = renderWorkerRbac(policy, name).keptRoles;
    if (policy.settings.keptRoles === 'applied-by-admin') {
      for (const namespace of alsoIn) {
        const levels = cluster.namespaces
          .filter((ns) => namespaceMatches(ns.name, namespace))
          .flatMap((ns) => ns.levels);
        roles.push(...keptRolesIn(policy, namespace, levels));
      }
    }
    for (const role of roles) {
      const body = role as V1Role;
      const { name: roleName, namespace } = role.metadata as { name: string; namespace: string };
      await rbac.createNamespacedRole({ namespace, body }).catch(async (error: { code?: number }) => {
        // A namespace the test has not created (yet): nothing to apply there; a grant into it is refused.
        if (error.code === 404) return;
        if (error.code !== 409) throw error;
        await rbac.replaceNamespacedRole({ name: roleName, namespace, body });
      });
    }
  }
}
