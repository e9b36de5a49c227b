// RBAC objects and SubjectAccessReviews on one cluster (the ClusterRbac port) with client-node.
import { randomUUID } from 'node:crypto';
import {
  AuthorizationV1Api,
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1ClusterRole,
  type V1ResourceAttributes,
  type V1Role,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import type { PolicyRule } from '../../config/policy.js';
import { ANNOTATIONS, LABELS, MANAGED_BY, MANAGED_BY_LABEL } from '../../domain/names.js';
import type { PermissionCheck, RoleBindingManifest, RoleManifest } from '../../domain/plan.js';
import type { ClusterRbac, ManagedBinding } from '../../ports/cluster.js';
import { fromKubeError, kubeStatus } from './errors.js';
import { FreshRead, FreshReads } from './fresh-read.js';

/**
 * Written with a new value on every applyRole, so each apply moves the Role's resourceVersion (an
 * identical update would not) and a deleteRoleIfUnused that read the Role before it fails its
 * precondition instead of deleting a Role someone just started to use.
 */
/** RoleBindings per list request. */
const LIST_PAGE = 500;

export const ROLE_APPLIED_ANNOTATION = 'eks-access.io/applied';

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
  const requester = annotations[ANNOTATIONS.requester];
  return {
    namespace: rb.metadata.namespace ?? '',
    name: rb.metadata.name,
    uid: rb.metadata.uid ?? '',
    grantId,
    level: labels[LABELS.level] ?? '',
    ...(seal ? { seal } : {}),
    userLabel: labels[LABELS.user] ?? '',
    ...(labels[LABELS.installation] ? { installation: labels[LABELS.installation] } : {}),
    username: annotations[ANNOTATIONS.username] ?? '',
    principalArn: annotations[ANNOTATIONS.principalArn] ?? '',
    ...(roleArn ? { roleArn } : {}),
    expiresAt: Date.parse(annotations[ANNOTATIONS.expiresAt] ?? ''),
    roleRef: { kind: rb.roleRef.kind, name: rb.roleRef.name },
    ...(requester ? { requester } : {}),
    subjects: (rb.subjects ?? []).map((s) => ({
      kind: s.kind,
      name: s.name,
      ...(s.namespace ? { namespace: s.namespace } : {}),
    })),
  };
}

export class KubeRbac implements ClusterRbac {
  readonly #apis: KubeApis;
  /** Concurrent callers share one cluster-wide list made after they asked (see FreshRead). */
  readonly #allBindings: FreshRead<ManagedBinding[]>;
  readonly #roleChecks = new FreshReads<boolean>();

  constructor(apis: KubeApis) {
    this.#apis = apis;
    this.#allBindings = new FreshRead(() => this.#listBindings());
  }

  /** Replace first (the kept Role is usually there already): one call, a create only when it is not. */
  async applyRole(role: RoleManifest): Promise<void> {
    const { rbac } = await this.#apis.get();
    const { name, namespace } = role.metadata;
    // PolicyRule's optional resourceNames is V1PolicyRule's.
    const body = {
      ...role,
      metadata: {
        ...role.metadata,
        annotations: { ...(role.metadata.annotations ?? {}), [ROLE_APPLIED_ANNOTATION]: randomUUID() },
      },
    } as V1Role;
    await replaceOrCreate(
      () => rbac.replaceNamespacedRole({ name, namespace, body }),
      () => rbac.createNamespacedRole({ namespace, body }),
      `write Role ${namespace}/${name}`,
    );
  }

  async applyRoleBinding(binding: RoleBindingManifest, options: { exists?: boolean } = {}): Promise<void> {
    const { rbac } = await this.#apis.get();
    const { name, namespace } = binding.metadata;
    const create = () => rbac.createNamespacedRoleBinding({ namespace, body: binding });
    const replace = () => rbac.replaceNamespacedRoleBinding({ name, namespace, body: binding });
    const what = `write RoleBinding ${namespace}/${name}`;
    await (options.exists ? replaceOrCreate(replace, create, what) : createOrReplace(create, replace, what));
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

  /**
   * Read the Role, list the namespace's RoleBindings, delete the Role only if none refers to it and
   * only if it is still the Role read (resourceVersion precondition): an applyRole in between (which
   * always follows its RoleBinding's write) makes the delete fail with 409, and the Role stays. No lock
   * needed, and concurrent callers in this process share one check made after they asked.
   */
  deleteRoleIfUnused(namespace: string, name: string): Promise<boolean> {
    return this.#roleChecks.get(`${namespace}/${name}`, () => this.#deleteRoleIfUnused(namespace, name));
  }

  async #deleteRoleIfUnused(namespace: string, name: string): Promise<boolean> {
    const { rbac } = await this.#apis.get();
    try {
      const role = await rbac.readNamespacedRole({ name, namespace });
      const resourceVersion = role.metadata?.resourceVersion;
      const bindings = await rbac.listNamespacedRoleBinding({ namespace });
      if (bindings.items.some((rb) => rb.roleRef.kind === 'Role' && rb.roleRef.name === name)) return false;
      await rbac.deleteNamespacedRole({
        name,
        namespace,
        body: { preconditions: { ...(resourceVersion ? { resourceVersion } : {}) } },
      });
      return true;
    } catch (error) {
      if (kubeStatus(error) === 404) return true;
      // Written since we read it: someone is binding it again.
      if (kubeStatus(error) === 409) return false;
      throw fromKubeError(error, `delete Role ${namespace}/${name}`);
    }
  }

  listBindings(userLabel?: string): Promise<ManagedBinding[]> {
    return userLabel ? this.#listBindings(userLabel) : this.#allBindings.get();
  }

  async #listBindings(userLabel?: string): Promise<ManagedBinding[]> {
    const { rbac } = await this.#apis.get();
    const selector = [
      `${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      ...(userLabel ? [`${LABELS.user}=${userLabel}`] : []),
    ];
    try {
      // In pages: with 10 000 bindings one list held every object (and its JSON) at once; a page at a
      // time keeps only the small ManagedBinding of each.
      const bindings: ManagedBinding[] = [];
      let next: string | undefined;
      do {
        const page = await rbac.listRoleBindingForAllNamespaces({
          labelSelector: selector.join(','),
          limit: LIST_PAGE,
          ...(next ? { _continue: next } : {}),
        });
        for (const rb of page.items) {
          const binding = toManagedBinding(rb);
          if (binding) bindings.push(binding);
        }
        next = page.metadata?._continue || undefined;
      } while (next);
      return bindings;
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

  async roleRules(namespace: string, name: string): Promise<PolicyRule[] | undefined> {
    const { rbac } = await this.#apis.get();
    try {
      return rulesOf(await rbac.readNamespacedRole({ namespace, name }));
    } catch (error) {
      // The worker may read Roles only where it keeps them: a look-alike elsewhere names a Role unread.
      if (kubeStatus(error) === 404 || kubeStatus(error) === 403) return undefined;
      throw fromKubeError(error, `read Role ${namespace}/${name}`);
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

/** The mirror of createOrReplace, for objects that usually exist: a 404 on replace creates. */
async function replaceOrCreate(
  replace: () => Promise<unknown>,
  create: () => Promise<unknown>,
  what: string,
): Promise<void> {
  try {
    await replace();
  } catch (error) {
    if (kubeStatus(error) !== 404) throw fromKubeError(error, what);
    // Created by someone else in between: the replace path again.
    await createOrReplace(create, replace, what);
  }
}

/** A (Cluster)Role's rules in the policy's shape (aggregated roles: the rules the controller filled in). */
export function rulesOf(role: V1ClusterRole | V1Role): PolicyRule[] {
  return (role.rules ?? []).map((r) => ({
    apiGroups: r.apiGroups ?? [''],
    resources: r.resources ?? [],
    verbs: r.verbs,
    ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
  }));
}

/**
 * Whether the KubeConfig's own identity may do what `attributes` say (SelfSubjectAccessReview): the
 * worker's doctor checks, and the login probe as the person. Errors are the caller's to name.
 */
export async function selfAllowed(kc: KubeConfig, attributes: V1ResourceAttributes): Promise<boolean> {
  const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectAccessReview({
    body: { spec: { resourceAttributes: attributes } },
  });
  return review.status?.allowed === true;
}
