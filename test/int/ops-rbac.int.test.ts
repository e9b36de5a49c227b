// The engine running with ONLY the worker RBAC that `eks-access rbac render` ships (default mode:
// kept Roles applied by the admin from the same render), against a real kube-apiserver: it can grant and
// revoke in a listed namespace (the API server's escalation checks pass because of `bind` by name), and
// is refused everywhere else — unlisted namespaces, roles the policy does not offer, Secrets, and any
// write to a Role (so it cannot widen the kept Role it binds).
import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
  type V1Role,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeApis, KubeRbac } from '../../src/adapters/k8s/rbac.js';
import { planGrant, requireRoleBinding } from '../../src/domain/plan.js';
import { renderRbacYaml } from '../../src/operator/render-permissions.js';
import { adminKubeConfig, kubeConfigAs, uniqueName } from '../platform/context.js';
import { adminKubectl, viewAndDeployerPolicy } from '../support/rbac-fixtures.js';

/** The HTTP status a call ends with: 200, or the ApiException's code (anything else is a test failure). */
const statusOf = (call: Promise<unknown>): Promise<number> =>
  call.then(
    () => 200,
    (error: unknown) => (error instanceof ApiException ? error.code : Promise.reject(error)),
  );

const kubectl = adminKubectl;

describe('the engine with only the shipped bot RBAC', () => {
  const listed = uniqueName('ops-listed');
  const other = uniqueName('ops-other');
  const botUser = uniqueName('eks-access-bot');
  const rbacName = uniqueName('eks-access-bot');
  const alice = uniqueName('alice');
  let admin: KubeConfig;
  let bot: KubeConfig;
  let rbac: KubeRbac;
  let rendered: string;

  const policy = viewAndDeployerPolicy(listed, '{slackUserId}');

  const plan = (level: string, namespace: string) => {
    const planned = planGrant({
      policy,
      grant: {
        id: uniqueName('ea').replaceAll('-', ''),
        cluster: 'test',
        namespace,
        level,
        requester: { slackUserId: 'U0ALICE', principalArn: '', kubernetesUsername: alice },
      },
      expiresAt: Date.now() + 3_600_000,
    });
    return { ...planned, roleBinding: requireRoleBinding(planned) };
  };

  const aliceMay = (namespace: string, verb: string, resource: string, group: string) =>
    rbac.allowed(alice, ['system:authenticated'], { namespace, verb, resource, group });

  beforeAll(async () => {
    admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    for (const name of [listed, other]) await core.createNamespace({ body: { metadata: { name } } });
    rendered = renderRbacYaml(policy, 'test', {
      subject: { kind: 'User', name: botUser },
      name: rbacName,
    }).text;
    const applied = kubectl(['apply', '-f', '-'], rendered);
    expect(applied.stderr).toBe('');
    expect(applied.status).toBe(0);
    bot = await kubeConfigAs(botUser);
    rbac = new KubeRbac(new KubeApis(async () => bot));
  });

  afterAll(async () => {
    kubectl(['delete', '--ignore-not-found', '-f', '-'], rendered);
    const core = admin.makeApiClient(CoreV1Api);
    for (const name of [listed, other]) await core.deleteNamespace({ name }).catch(() => undefined);
  });

  it('binds the kept Role the admin applied and a ClusterRole (bind) in a listed namespace, then revokes', async () => {
    const deployer = plan('deployer', listed);
    expect(await aliceMay(listed, 'create', 'jobs', 'batch')).toBe(false);
    // The worker holds no permission on jobs and may not write the Role (the admin applied it from the
    // render); only `bind` by name lets it bind it.
    await expect(rbac.applyRole(deployer.role!)).rejects.toMatchObject({ kind: 'misconfigured' });
    await rbac.applyRoleBinding(deployer.roleBinding);
    expect(await aliceMay(listed, 'create', 'jobs', 'batch')).toBe(true);

    const view = plan('view', listed);
    await rbac.applyRoleBinding(view.roleBinding);
    expect(await aliceMay(listed, 'list', 'configmaps', '')).toBe(true);

    // The reconciler's cluster-wide read works.
    const found = (await rbac.listBindings()).map((b) => b.name);
    expect(found).toEqual(
      expect.arrayContaining([deployer.roleBinding.metadata.name, view.roleBinding.metadata.name]),
    );

    // Replace (a retried activation) is allowed too.
    await rbac.applyRoleBinding(deployer.roleBinding);

    await rbac.deleteRoleBinding(listed, deployer.roleBinding.metadata.name);
    await rbac.deleteRoleBinding(listed, view.roleBinding.metadata.name);
    expect(await aliceMay(listed, 'create', 'jobs', 'batch')).toBe(false);
    expect(await aliceMay(listed, 'list', 'configmaps', '')).toBe(false);
  });

  it('is refused in a namespace the policy does not list', async () => {
    const api = bot.makeApiClient(RbacAuthorizationV1Api);
    const outside = plan('view', other);
    expect(
      await statusOf(api.createNamespacedRoleBinding({ namespace: other, body: outside.roleBinding })),
    ).toBe(403);
    const keptOutside = plan('deployer', other);
    expect(
      await statusOf(api.createNamespacedRole({ namespace: other, body: keptOutside.role as V1Role })),
    ).toBe(403);
    // Through the engine's adapter the refusal is an admin's problem, not a transient one.
    await expect(rbac.applyRoleBinding(outside.roleBinding)).rejects.toMatchObject({ kind: 'misconfigured' });
  });

  it('cannot bind a ClusterRole the policy does not offer there, nor bind any other Role', async () => {
    const api = bot.makeApiClient(RbacAuthorizationV1Api);
    const binding = plan('view', listed).roleBinding;
    const toAdmin = { ...binding, roleRef: { ...binding.roleRef, name: 'admin' } };
    expect(await statusOf(api.createNamespacedRoleBinding({ namespace: listed, body: toAdmin }))).toBe(403);
    // The default mode gives the worker no write on any Role: it cannot create one of its own…
    const role = plan('deployer', listed).role!;
    const foreign = { ...role, metadata: { ...role.metadata, name: uniqueName('not-ours') } };
    expect(await statusOf(api.createNamespacedRole({ namespace: listed, body: foreign as V1Role }))).toBe(
      403,
    );
    // …nor bind a Role an admin made for something else…
    const other = kubectl([
      '-n',
      listed,
      'create',
      'role',
      foreign.metadata.name,
      '--verb=get',
      '--resource=pods',
    ]);
    expect(other.status).toBe(0);
    const toForeign = {
      ...binding,
      roleRef: { ...binding.roleRef, kind: 'Role', name: foreign.metadata.name },
    };
    expect(await statusOf(api.createNamespacedRoleBinding({ namespace: listed, body: toForeign }))).toBe(403);
    // …nor rewrite the kept Role it binds to everything (the attack of issue 18: */*/* then bind it),
    // nor delete it.
    const kept = role.metadata.name;
    const everything = { ...role, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] } as V1Role;
    expect(
      await statusOf(api.replaceNamespacedRole({ namespace: listed, name: kept, body: everything })),
    ).toBe(403);
    expect(
      await statusOf(
        api.patchNamespacedRole({
          namespace: listed,
          name: kept,
          body: [{ op: 'replace', path: '/rules', value: everything.rules }],
        }),
      ),
    ).toBe(403);
    expect(await statusOf(api.deleteNamespacedRole({ namespace: listed, name: kept }))).toBe(403);
    expect(
      (
        await admin
          .makeApiClient(RbacAuthorizationV1Api)
          .readNamespacedRole({ namespace: listed, name: kept })
      ).rules,
    ).toEqual(role.rules);
  });

  it('cannot read Secrets, or write anything cluster-wide', async () => {
    const core = bot.makeApiClient(CoreV1Api);
    expect(await statusOf(core.listNamespacedSecret({ namespace: listed }))).toBe(403);
    expect(await statusOf(core.listSecretForAllNamespaces())).toBe(403);
    const api = bot.makeApiClient(RbacAuthorizationV1Api);
    expect(
      await statusOf(
        api.createClusterRoleBinding({
          body: {
            metadata: { name: uniqueName('escalate') },
            subjects: [{ kind: 'User', name: botUser, apiGroup: 'rbac.authorization.k8s.io' }],
            roleRef: { kind: 'ClusterRole', name: 'cluster-admin', apiGroup: 'rbac.authorization.k8s.io' },
          },
        }),
      ),
    ).toBe(403);
  });
});
