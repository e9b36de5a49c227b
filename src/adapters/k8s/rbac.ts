// RBAC objects and SubjectAccessReviews on one cluster (the ClusterRbac port) with client-node.
import {
  AuthorizationV1Api,
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1Role,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import type { PolicyRule } from '../../config/policy.js';
import { ANNOTATIONS, LABELS, MANAGED_BY, MANAGED_BY_LABEL } from '../../domain/names.js';
import type { PermissionCheck, RoleBindingManifest, RoleManifest } from '../../domain/plan.js';
import type { ClusterRbac, ManagedBinding } from '../../ports/cluster.js';
import { fromKubeError, kubeStatus } from './errors.js';

interface Apis {
  rbac: RbacAuthorizationV1Api;
  core: CoreV1Api;
  authz: AuthorizationV1Api;
}

/** Builds API clients from a KubeConfig; the config may change (EKS tokens refresh), clients follow. */
export class KubeApis {
  readonly #load: () => Promise<KubeConfig>;
  #last: { kc: KubeConfig; apis: Apis } | undefined;

  constructor(load: () => Promise<KubeConfig>) {
    this.#load = load;
  }

  async get(): Promise<Apis> {
    const kc = await this.#load();
    if (this.#last?.kc !== kc) {
      this.#last = {
        kc,
        apis: {
          rbac: kc.makeApiClient(RbacAuthorizationV1Api),
          core: kc.makeApiClient(CoreV1Api),
          authz: kc.makeApiClient(AuthorizationV1Api),
        },
      };
    }
    return this.#last.apis;
  }
}

export function toManagedBinding(rb: V1RoleBinding): ManagedBinding | undefined {
  const labels = rb.metadata?.labels ?? {};
  const annotations = rb.metadata?.annotations ?? {};
  const grantId = labels[LABELS.grantId];
  if (labels[MANAGED_BY_LABEL] !== MANAGED_BY || !grantId || !rb.metadata?.name) return undefined;
  const roleArn = annotations[ANNOTATIONS.roleArn];
  const seal = annotations[ANNOTATIONS.seal];
  return {
    namespace: rb.metadata.namespace ?? '',
    name: rb.metadata.name,
    uid: rb.metadata.uid ?? '',
    grantId,
    level: labels[LABELS.level] ?? '',
    ...(seal ? { seal } : {}),
    userLabel: labels[LABELS.user] ?? '',
    username: annotations[ANNOTATIONS.username] ?? '',
    principalArn: annotations[ANNOTATIONS.principalArn] ?? '',
    ...(roleArn ? { roleArn } : {}),
    expiresAt: Date.parse(annotations[ANNOTATIONS.expiresAt] ?? ''),
    roleRef: { kind: rb.roleRef.kind, name: rb.roleRef.name },
  };
}

export class KubeRbac implements ClusterRbac {
  readonly #apis: KubeApis;

  constructor(apis: KubeApis) {
    this.#apis = apis;
  }

  async applyRole(role: RoleManifest): Promise<void> {
    const { rbac } = await this.#apis.get();
    const { name, namespace } = role.metadata;
    const body = role as V1Role; // PolicyRule's optional resourceNames is V1PolicyRule's
    await createOrReplace(
      () => rbac.createNamespacedRole({ namespace, body }),
      () => rbac.replaceNamespacedRole({ name, namespace, body }),
      `write Role ${namespace}/${name}`,
    );
  }

  async applyRoleBinding(binding: RoleBindingManifest): Promise<void> {
    const { rbac } = await this.#apis.get();
    const { name, namespace } = binding.metadata;
    await createOrReplace(
      () => rbac.createNamespacedRoleBinding({ namespace, body: binding }),
      () => rbac.replaceNamespacedRoleBinding({ name, namespace, body: binding }),
      `write RoleBinding ${namespace}/${name}`,
    );
  }

  async deleteRoleBinding(namespace: string, name: string, options: { uid?: string } = {}): Promise<void> {
    const { rbac } = await this.#apis.get();
    try {
      await rbac.deleteNamespacedRoleBinding({
        name,
        namespace,
        ...(options.uid ? { body: { preconditions: { uid: options.uid } } } : {}),
      });
    } catch (error) {
      // 409 with a uid precondition: the object was replaced since; not the one we were asked about.
      if (options.uid && kubeStatus(error) === 409) return;
      if (kubeStatus(error) !== 404) throw fromKubeError(error, `delete RoleBinding ${namespace}/${name}`);
    }
  }

  async deleteRoleIfUnused(namespace: string, name: string): Promise<boolean> {
    const { rbac } = await this.#apis.get();
    try {
      const bindings = await rbac.listNamespacedRoleBinding({ namespace });
      if (bindings.items.some((rb) => rb.roleRef.kind === 'Role' && rb.roleRef.name === name)) return false;
      await rbac.deleteNamespacedRole({ name, namespace });
      return true;
    } catch (error) {
      if (kubeStatus(error) === 404) return true;
      throw fromKubeError(error, `delete Role ${namespace}/${name}`);
    }
  }

  async listBindings(userLabel?: string): Promise<ManagedBinding[]> {
    const { rbac } = await this.#apis.get();
    const selector = [
      `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      ...(userLabel ? [`${LABELS.user}=${userLabel}`] : []),
    ];
    try {
      const list = await rbac.listRoleBindingForAllNamespaces({ labelSelector: selector.join(',') });
      return list.items.flatMap((rb) => toManagedBinding(rb) ?? []);
    } catch (error) {
      throw fromKubeError(error, 'list our RoleBindings');
    }
  }

  async clusterRoleRules(name: string): Promise<PolicyRule[] | undefined> {
    const { rbac } = await this.#apis.get();
    try {
      return rulesOf(await rbac.readClusterRole({ name }));
    } catch (error) {
      if (kubeStatus(error) === 404) return undefined;
      throw fromKubeError(error, `read ClusterRole ${name}`);
    }
  }

  async allowed(username: string, groups: readonly string[], check: PermissionCheck): Promise<boolean> {
    const { authz } = await this.#apis.get();
    try {
      const review = await authz.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: username,
            groups: [...groups],
            resourceAttributes: {
              namespace: check.namespace,
              verb: check.verb,
              group: check.group,
              resource: check.resource,
              ...(check.subresource ? { subresource: check.subresource } : {}),
            },
          },
        },
      });
      return review.status?.allowed === true;
    } catch (error) {
      throw fromKubeError(error, 'ask the API server (SubjectAccessReview)');
    }
  }

  async namespaceExists(namespace: string): Promise<boolean> {
    const { core } = await this.#apis.get();
    try {
      await core.readNamespace({ name: namespace });
      return true;
    } catch (error) {
      if (kubeStatus(error) === 404) return false;
      // 403: the bot may not read namespaces; let the RoleBinding write tell.
      if (kubeStatus(error) === 403) return true;
      throw fromKubeError(error, `read namespace ${namespace}`);
    }
  }
}

async function createOrReplace(
  create: () => Promise<unknown>,
  replace: () => Promise<unknown>,
  what: string,
): Promise<void> {
  try {
    await create();
  } catch (error) {
    if (kubeStatus(error) !== 409) throw fromKubeError(error, what);
    try {
      await replace();
    } catch (replaceError) {
      throw fromKubeError(replaceError, what);
    }
  }
}

/** A ClusterRole's rules in the policy's shape (aggregated roles: the rules the controller filled in). */
export function rulesOf(role: V1ClusterRole): PolicyRule[] {
  return (role.rules ?? []).map((r) => ({
    apiGroups: r.apiGroups ?? [''],
    resources: r.resources ?? [],
    verbs: r.verbs,
    ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
  }));
}
