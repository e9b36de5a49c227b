// What the worker can reach, tried as an attacker holding the worker's identity would, on the real
// kube-apiserver (issue 18): the admission policy `rbac render` ships refuses every RoleBinding the
// engine would not write (a group, a stranger's username, cluster-admin even when RBAC would let it
// bind that), and activation refuses a kept Role the platform team has not applied, or one that
// differs from the policy, without writing anything.
import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type RbacV1Subject,
  type V1RoleBinding,
} from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderWorkerAdmission } from '../../src/domain/admission.js';
import { roleBindingName } from '../../src/domain/names.js';
import { renderRbacYaml } from '../../src/operator/render-permissions.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig, kubeConfigAs, uniqueName } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { adminKubectl, viewAndDeployerPolicy } from '../support/rbac-fixtures.js';
import { engineHarness, type Harness } from './engine-harness.js';

const RBAC = 'rbac.authorization.k8s.io';

const kubectl = adminKubectl;

/** 201, or the refusal's HTTP status and message. */
async function attempt(call: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await call;
    return { code: 201, message: '' };
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    const body = typeof error.body === 'string' ? error.body : JSON.stringify(error.body);
    return { code: error.code, message: body };
  }
}

describe("the worker's RoleBindings, bounded by the shipped admission policy", () => {
  const listed = uniqueName('reach');
  const workerUser = uniqueName('eks-access-worker');
  const rbacName = uniqueName('eks-access-worker');
  let worker: KubeConfig;
  let rendered: string;
  const extraAdminGrant = uniqueName('misconfigured-bind');

  const policy = viewAndDeployerPolicy(listed, 'sso:{slackUserId}');

  const binding = (
    roleRef: { kind: 'Role' | 'ClusterRole'; name: string },
    subjects: RbacV1Subject[],
  ): V1RoleBinding => ({
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: { name: uniqueName('rb'), namespace: listed },
    subjects,
    roleRef: { apiGroup: RBAC, ...roleRef },
  });
  const person = (name: string) => [{ kind: 'User', apiGroup: RBAC, name }];
  const create = (body: V1RoleBinding) =>
    attempt(
      worker.makeApiClient(RbacAuthorizationV1Api).createNamespacedRoleBinding({ namespace: listed, body }),
    );

  beforeAll(async () => {
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespace({ body: { metadata: { name: listed } } });
    rendered = renderRbacYaml(policy, 'test', {
      subject: { kind: 'User', name: workerUser },
      name: rbacName,
    }).text;
    const applied = kubectl(['apply', '-f', '-'], rendered);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    worker = await kubeConfigAs(workerUser);
    // The API server loads admission policies asynchronously: wait until this one refuses a group.
    await pollUntil(
      'the admission policy to be enforced',
      async () => {
        const probe = binding({ kind: 'ClusterRole', name: 'view' }, [
          { kind: 'Group', apiGroup: RBAC, name: 'system:authenticated' },
        ]);
        const tried = await create(probe);
        if (tried.code === 201) kubectl(['-n', listed, 'delete', 'rolebinding', probe.metadata?.name ?? '']);
        return tried.code;
      },
      (code) => code === 403,
    );
  });

  afterAll(async () => {
    kubectl(['delete', '--ignore-not-found', '-f', '-'], rendered);
    kubectl(['delete', '--ignore-not-found', 'clusterrole,clusterrolebinding', extraAdminGrant]);
    await adminKubeConfig()
      .makeApiClient(CoreV1Api)
      .deleteNamespace({ name: listed })
      .catch(() => undefined);
  });

  it('admits what the engine writes: an offered role, bound to one person of the username template', async () => {
    expect(await create(binding({ kind: 'ClusterRole', name: 'view' }, person('sso:U0ALICE')))).toEqual({
      code: 201,
      message: '',
    });
    expect(await create(binding({ kind: 'Role', name: 'eks-access-deployer' }, person('sso:U0BOB')))).toEqual(
      {
        code: 201,
        message: '',
      },
    );
  });

  it('refuses a group, several people, a ServiceAccount, or a username outside the template', async () => {
    const view = { kind: 'ClusterRole', name: 'view' } as const;
    for (const subjects of [
      [{ kind: 'Group', apiGroup: RBAC, name: 'system:authenticated' }],
      [...person('sso:U0ALICE'), ...person('sso:U0BOB')],
      [{ kind: 'ServiceAccount', name: 'default', namespace: listed }],
      person('cluster-admin-user'),
    ]) {
      const refused = await create(binding(view, subjects));
      expect(refused.code).toBe(403);
      expect(refused.message).toContain(
        'the eks-access worker may bind exactly one User whose name starts with \\"sso:\\"',
      );
    }
  });

  it('refuses cluster-admin even where RBAC would let the worker bind it', async () => {
    // A misconfiguration an attacker may find: the worker may `bind` cluster-admin. RBAC alone then
    // admits the binding; the admission policy still refuses it.
    const grant = kubectl([
      'create',
      'clusterrole',
      extraAdminGrant,
      '--verb=bind',
      '--resource=clusterroles',
      '--resource-name=cluster-admin',
    ]);
    expect(grant.status).toBe(0);
    expect(
      kubectl([
        'create',
        'clusterrolebinding',
        extraAdminGrant,
        `--clusterrole=${extraAdminGrant}`,
        `--user=${workerUser}`,
      ]).status,
    ).toBe(0);
    const refused = await pollUntil(
      'RBAC to let the worker bind cluster-admin',
      () => create(binding({ kind: 'ClusterRole', name: 'cluster-admin' }, person('sso:U0MALLORY'))),
      (tried) => tried.message.includes('ValidatingAdmissionPolicy') || tried.code === 201,
    );
    expect(refused.code).toBe(403);
    expect(refused.message).toContain(
      `the eks-access worker may bind only the roles the policy offers in ${listed}, not ClusterRole/cluster-admin`,
    );
    // And the admin, whom the policy does not match, is not bounded by it.
    const admin = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const own = binding({ kind: 'ClusterRole', name: 'view' }, [
      { kind: 'Group', apiGroup: RBAC, name: 'system:authenticated' },
    ]);
    expect(await attempt(admin.createNamespacedRoleBinding({ namespace: listed, body: own }))).toEqual({
      code: 201,
      message: '',
    });
  });
});

describe('the admission policy for namespace patterns', () => {
  it('is accepted by the API server (its CEL compiles) with a pattern like team-*', () => {
    const policy = viewAndDeployerPolicy('team-*', 'sso:{slackUserId}');
    const { objects } = renderWorkerAdmission(policy, 'test', { name: uniqueName('eks-access-worker') });
    const yaml = objects.map((o) => JSON.stringify(o)).join('\n---\n');
    const dryRun = kubectl(['apply', '--dry-run=server', '-f', '-'], yaml);
    expect(dryRun.stderr).toBe('');
    expect(dryRun.status).toBe(0);
    expect(yaml).toContain('^team-[-a-z0-9]*$');
  });
});

describe('activation with kept Roles the platform team applies', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  const rbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);

  it('refuses a missing kept Role and one that differs from the policy, writing nothing, and grants once it is applied', async () => {
    h = await engineHarness('none');
    await h.startWorker();
    const alice = await h.person();
    const role = 'eks-access-k8s-test-role';
    const applied = await rbac().readNamespacedRole({ name: role, namespace: h.namespace });

    // Widened behind the policy's back: refused, nothing written.
    await rbac().replaceNamespacedRole({
      name: role,
      namespace: h.namespace,
      body: { ...applied, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
    });
    const widened = await h.waitFor((await h.approve(alice)).id, ['active', 'failed']);
    expect(widened.status).toBe('failed');
    expect(widened.failure?.reason).toContain(
      `Role ${h.namespace}/${role} on ${h.cluster} differs from levels.k8s-test-role.rules in the policy`,
    );
    await expect(
      rbac().readNamespacedRoleBinding({ name: roleBindingName(widened.id), namespace: h.namespace }),
    ).rejects.toMatchObject({ code: 404 });
    expect(await h.allowed(alice.username, 'list', 'secrets', '', h.namespace)).toBe(false);

    // Missing: refused with what to apply.
    await rbac().deleteNamespacedRole({ name: role, namespace: h.namespace });
    const missing = await h.waitFor((await h.approve(alice)).id, ['active', 'failed']);
    expect(missing.status).toBe('failed');
    expect(missing.failure?.reason).toContain(
      `Role ${h.namespace}/${role} for level k8s-test-role is not on ${h.cluster}`,
    );
    // The worker did not write it back.
    await expect(rbac().readNamespacedRole({ name: role, namespace: h.namespace })).rejects.toMatchObject({
      code: 404,
    });

    // Applied as rendered: the grant works.
    const { metadata, rules } = applied;
    await rbac().createNamespacedRole({
      namespace: h.namespace,
      body: {
        metadata: { name: role, namespace: h.namespace, labels: metadata?.labels ?? {} },
        rules: rules ?? [],
      },
    });
    const granted = await h.waitFor((await h.approve(alice)).id, ['active', 'failed']);
    expect(granted.status).toBe('active');
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(true);
  });

  it('with keptRoles: written-by-worker (the wider mode), writes the kept Role itself and removes it when unused', async () => {
    h = await engineHarness('none', { keptRoles: 'written-by-worker' });
    await h.startWorker();
    const role = 'eks-access-k8s-test-role';
    await expect(rbac().readNamespacedRole({ name: role, namespace: h.namespace })).rejects.toMatchObject({
      code: 404,
    });
    const alice = await h.person();
    const granted = await h.waitFor((await h.approve(alice)).id, ['active', 'failed']);
    expect(granted.status).toBe('active');
    expect((await rbac().readNamespacedRole({ name: role, namespace: h.namespace })).rules).toHaveLength(1);
    await endGrant(h.deps, granted.id, 'revoked', 'U0APPROVER');
    await h.waitFor(granted.id, ['revoked']);
    await expect(rbac().readNamespacedRole({ name: role, namespace: h.namespace })).rejects.toMatchObject({
      code: 404,
    });
  });
});
