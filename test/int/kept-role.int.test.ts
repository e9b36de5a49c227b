// The kept Role without a lock (src/adapters/k8s/rbac.ts): a revocation's deleteRoleIfUnused reads the
// Role, lists the namespace's RoleBindings and deletes with the read resourceVersion as a precondition;
// an activation writes its RoleBinding and then applies the Role, which always moves the
// resourceVersion. Here an activation lands exactly between the list and the delete, on the real
// kube-apiserver: the Role must survive.
import { CoreV1Api, type KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeApis, KubeRbac } from '../../src/adapters/k8s/rbac.js';
import type { RoleBindingManifest, RoleManifest } from '../../src/domain/plan.js';
import { adminKubeConfig, uniqueName } from '../platform/context.js';

const core = () => adminKubeConfig().makeApiClient(CoreV1Api);
const rbacApi = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
let namespace: string | undefined;
afterEach(async () => {
  if (namespace)
    await core()
      .deleteNamespace({ name: namespace })
      .catch(() => undefined);
  namespace = undefined;
});

const role = (ns: string): RoleManifest => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: { name: 'eks-access-kept', namespace: ns, labels: {} },
  rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }],
});
const binding = (ns: string, name: string): RoleBindingManifest => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name, namespace: ns, labels: {} },
  subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: `user-${name}` }],
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'eks-access-kept' },
});

/** A KubeRbac whose namespace RoleBinding list runs `between` after the answer, before the caller goes on. */
function rbacWithHook(between: () => Promise<void>): KubeRbac {
  const kc: KubeConfig = adminKubeConfig();
  const make = kc.makeApiClient.bind(kc);
  kc.makeApiClient = ((api: never) => {
    const client = make(api) as object;
    return new Proxy(client, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (property !== 'listNamespacedRoleBinding' || typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          const answer = await value.apply(target, args);
          await between();
          return answer;
        };
      },
    });
  }) as typeof kc.makeApiClient;
  return new KubeRbac(new KubeApis(async () => kc));
}

const roleExists = async (ns: string) =>
  rbacApi()
    .readNamespacedRole({ name: 'eks-access-kept', namespace: ns })
    .then(
      () => true,
      () => false,
    );

describe('the kept Role and a concurrent activation', () => {
  it('an activation between the revocation’s list and its delete keeps the Role; without one it goes', async () => {
    const ns = uniqueName('kept');
    namespace = ns;
    await core().createNamespace({ body: { metadata: { name: ns } } });
    const activation = new KubeRbac(new KubeApis(async () => adminKubeConfig()));
    await activation.applyRole(role(ns));

    // The revocation has listed no binding; then an activation writes its binding and the Role.
    const racing = rbacWithHook(async () => {
      await activation.applyRoleBinding(binding(ns, 'grant-b'));
      await activation.applyRole(role(ns));
    });
    expect(await racing.deleteRoleIfUnused(ns, 'eks-access-kept')).toBe(false);
    expect(await roleExists(ns)).toBe(true);

    // The control: the binding goes, nothing happens in between, and the Role is deleted.
    await activation.deleteRoleBinding(ns, 'grant-b');
    const quiet = rbacWithHook(async () => {});
    expect(await quiet.deleteRoleIfUnused(ns, 'eks-access-kept')).toBe(true);
    expect(await roleExists(ns)).toBe(false);
  });
});
