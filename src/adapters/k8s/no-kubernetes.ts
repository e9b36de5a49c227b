// The RBAC side of a cluster that offers access-policy levels: the worker holds no Kubernetes credentials
// there (docs/engine.md, "Access-policy levels"), so any call is a bug or a policy mistake, refused
// loudly instead of trying the API server with whatever identity the connection would carry.
import { misconfigured } from '../../domain/errors.js';
import type { ClusterRbac } from '../../ports/cluster.js';

export function noKubernetesAccess(cluster: string): ClusterRbac {
  const refuse = async (): Promise<never> => {
    throw misconfigured(
      `eks-access holds no Kubernetes access on ${cluster}: it offers access-policy levels, which need none`,
      'Offer only accessPolicy levels on this cluster (policy clusters.<name>.namespaces[].levels).',
    );
  };
  return {
    applyRole: refuse,
    applyRoleBinding: refuse,
    deleteRoleBinding: refuse,
    deleteRoleIfUnused: refuse,
    listBindings: refuse,
    clusterRoleRules: refuse,
    roleRules: refuse,
    allowed: refuse,
    namespaceExists: refuse,
  };
}
