// Trust boundaries on real servers (issue #9): a RoleBinding forged by someone who may only write
// RoleBindings in one namespace never creates, prolongs or removes access and is reported; a grant
// record written straight into Redis never becomes access; revocations of grants whose cluster,
// namespace or level left the policy still complete.
import { randomBytes } from 'node:crypto';
import { GetRoleCommand, ListRolesCommand } from '@aws-sdk/client-iam';
import { RbacAuthorizationV1Api, type V1RoleBinding } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { doctorProbes } from '../../src/adapters/doctor-probes.js';
import { PolicyClusterConnections } from '../../src/adapters/k8s/cluster-connections.js';
import { runCli } from '../../src/bin/cli.js';
import { buildCliRuntime } from '../../src/bin/cli-runtime.js';
import type { Policy } from '../../src/config/policy.js';
import { systemClock } from '../../src/domain/clock.js';
import type { Grant } from '../../src/domain/grant.js';
import {
  ANNOTATIONS,
  keptRoleName,
  LABELS,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  personalRoleArn,
  personalRoleName,
  roleBindingName,
  userLabelValue,
} from '../../src/domain/names.js';
import { parseSealKeys, type SealKeys, sealDecision } from '../../src/domain/seal.js';
import { humanTime } from '../../src/domain/text.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { revokeGrant } from '../../src/engine/revoke.js';
import { doctor } from '../../src/operator/doctor.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig, awsClientConfig, kubeConfigAs, platform, uniqueName } from '../platform/context.js';
import { approvedGrant } from '../support/grants.js';
import { pollUntil } from '../support/poll.js';
import { testSealKeys } from '../support/seal.js';
import { engineHarness, type Harness, ORIGINAL_AWS_AUTH, readAwsAuth } from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const RBAC = 'rbac.authorization.k8s.io';
const adminRbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
const bindingsOf = async (grantId: string) =>
  (await adminRbac().listRoleBindingForAllNamespaces({ labelSelector: `${LABELS.grantId}=${grantId}` }))
    .items;

const trustOf = async (harness: Harness, roleName: string) => {
  const role = await harness.iam.send(new GetRoleCommand({ RoleName: roleName }));
  return JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '')).Statement[0] as {
    Principal: { AWS: string };
    Condition: { DateLessThan: { 'aws:CurrentTime': string } };
  };
};

/** Every trust policy under the harness's IAM path, as text. */
const trustsUnderOurPath = async (harness: Harness) => {
  const page = await harness.iam.send(
    new ListRolesCommand({ PathPrefix: `/eks-access/${harness.cluster}/` }),
  );
  return (page.Roles ?? []).map((r) => decodeURIComponent(r.AssumeRolePolicyDocument ?? ''));
};

/**
 * A namespace admin as the issue describes one: a client-certificate user whose only right is to
 * write RoleBindings in the harness's namespace. Forged bindings refer to that user's own Role (the
 * one thing RBAC lets them bind without `bind`).
 */
async function namespaceAdmin(harness: Harness) {
  const user = uniqueName('ns-admin');
  await adminRbac().createNamespacedRole({
    namespace: harness.namespace,
    body: {
      metadata: { name: user },
      rules: [
        {
          apiGroups: [RBAC],
          resources: ['rolebindings'],
          verbs: ['create', 'get', 'list', 'update', 'delete'],
        },
      ],
    },
  });
  await adminRbac().createNamespacedRoleBinding({
    namespace: harness.namespace,
    body: {
      metadata: { name: user },
      subjects: [{ kind: 'User', apiGroup: RBAC, name: user }],
      roleRef: { apiGroup: RBAC, kind: 'Role', name: user },
    },
  });
  const rbac = (await kubeConfigAs(user)).makeApiClient(RbacAuthorizationV1Api);
  return {
    user,
    /** A RoleBinding that looks exactly like one of ours, with whatever it claims. */
    async forge(claims: {
      grantId: string;
      username: string;
      principalArn: string;
      expiresAt: string;
      seal?: string;
    }): Promise<V1RoleBinding> {
      const roleArn = personalRoleArn(
        platform().aws.accountId,
        '/eks-access/',
        harness.cluster,
        claims.principalArn,
      );
      return rbac.createNamespacedRoleBinding({
        namespace: harness.namespace,
        body: {
          metadata: {
            name: roleBindingName(claims.grantId),
            labels: {
              [MANAGED_BY_LABEL]: MANAGED_BY,
              [LABELS.grantId]: claims.grantId,
              [LABELS.level]: 'k8s-test-role',
              [LABELS.user]: userLabelValue(claims.username),
            },
            annotations: {
              [ANNOTATIONS.requester]: 'U0MALLORY',
              [ANNOTATIONS.principalArn]: claims.principalArn,
              [ANNOTATIONS.username]: claims.username,
              [ANNOTATIONS.roleArn]: roleArn,
              [ANNOTATIONS.expiresAt]: claims.expiresAt,
              [ANNOTATIONS.cluster]: harness.cluster,
              ...(claims.seal ? { [ANNOTATIONS.seal]: claims.seal } : {}),
            },
          },
          subjects: [{ kind: 'User', apiGroup: RBAC, name: claims.username }],
          roleRef: { apiGroup: RBAC, kind: 'Role', name: user },
        },
      });
    },
  };
}

const forgedId = () => `ea-${randomBytes(4).toString('hex').replace(/[01]/g, 'z')}`;

describe('a forged RoleBinding', () => {
  it('never creates, prolongs or removes access, is reported once, and is deleted only when an admin asks', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const alice = await h.person();
    const mallory = await h.person();
    const aliceGrant = await h.waitFor((await h.approve(alice, { durationSeconds: 3600 })).id, ['active']);
    const malloryGrant = await h.waitFor((await h.approve(mallory, { durationSeconds: 4 })).id, ['active']);
    const aliceRole = personalRoleName(h.cluster, alice.principalArn);
    const malloryRole = personalRoleName(h.cluster, mallory.principalArn);
    const aliceSeal = (await bindingsOf(aliceGrant.id))[0]?.metadata?.annotations?.[ANNOTATIONS.seal];
    expect(aliceSeal).toMatch(/^v1\.t1\./);

    const admin = await namespaceAdmin(h);
    const outsider = 'arn:aws:iam::999999999999:user/outsider';
    const forged = [
      // Mallory's own access, prolonged to 2099 without an approval.
      await admin.forge({
        grantId: forgedId(),
        username: mallory.username,
        principalArn: mallory.principalArn,
        expiresAt: '2099-01-01T00:00:00.000Z',
      }),
      // Anyone becomes anyone: another account's principal mapped to a username the policy never gave.
      await admin.forge({
        grantId: forgedId(),
        username: 'ops-admin',
        principalArn: outsider,
        expiresAt: '2099-01-01T00:00:00.000Z',
      }),
      // The victim torn down: her identity, an expiry in the past, her real binding's seal copied.
      await admin.forge({
        grantId: forgedId(),
        username: alice.username,
        principalArn: alice.principalArn,
        expiresAt: '2000-01-01T00:00:00.000Z',
        ...(aliceSeal ? { seal: aliceSeal } : {}),
      }),
    ];
    const forgedNames = forged.map((b) => `${h?.namespace}/${b.metadata?.name}`).sort();

    // The API server is shared with other test files: look only at this test's namespace.
    const ours = (found: { namespace: string; name: string }[]) =>
      found
        .filter((f) => f.namespace === h?.namespace)
        .map((f) => `${f.namespace}/${f.name}`)
        .sort();
    const first = await reconcile(h.deps);
    expect(ours(first.forgedBindings)).toEqual(forgedNames);
    expect(first.identitiesRemoved).toEqual([]);

    // Mallory's grant ends on time; the forged far-future binding keeps nothing alive.
    await h.waitFor(malloryGrant.id, ['expired'], 20_000);
    const second = await reconcile(h.deps);
    expect(ours(second.forgedBindings)).toEqual(forgedNames);
    expect(await h.roleExists(malloryRole)).toBe(false);
    expect(await h.allowed(mallory.username, 'create', 'jobs', 'batch', h.namespace)).toBe(false);

    // Nothing was created for the outsider, nothing mapped to ops-admin.
    const trusts = await trustsUnderOurPath(h);
    expect(trusts.join('\n')).not.toContain('999999999999');
    expect(trusts).toHaveLength(1); // alice's
    const mapRoles = (await readAwsAuth(h))['mapRoles'] ?? '';
    expect(mapRoles).not.toContain('ops-admin');
    expect(mapRoles).not.toContain(malloryRole);

    // Alice keeps everything her approval gave her, until her own expiry.
    expect(await h.roleExists(aliceRole)).toBe(true);
    const trust = await trustOf(h, aliceRole);
    expect(trust.Principal.AWS).toBe(alice.principalArn);
    expect(trust.Condition.DateLessThan['aws:CurrentTime']).toBe(
      new Date(aliceGrant.expiresAt as number).toISOString(),
    );
    expect(mapRoles).toContain(aliceRole);
    expect(mapRoles).toContain(alice.username);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(true);

    // Reported once per object, however many sweeps see it; never deleted by the bot on its own.
    const events = (await h.runtime.audit.read({})).filter(
      (e) => e.action === 'forged-binding' && e.details?.['namespace'] === h?.namespace,
    );
    expect(events.map((e) => `${e.details?.['namespace']}/${e.details?.['name']}`).sort()).toEqual(
      forgedNames,
    );
    expect(events.find((e) => e.details?.['claimedPrincipal'] === outsider)?.details?.['verdict']).toBe(
      'missing',
    );
    for (const b of forged)
      expect(await bindingsOf(b.metadata?.labels?.[LABELS.grantId] as string)).toHaveLength(1);

    // doctor names them.
    const probes = doctorProbes({
      env: h.runtime.env,
      loadConfig: () => ({ policy: h?.runtime.policy as Policy, warnings: [], source: 'test' }),
      clock: systemClock,
      credentials: awsClientConfig('iam').credentials,
      awsAuth: { [h.cluster]: h.awsAuth },
    });
    const results = await doctor(probes);
    const check = results.find((r) => r.name === `cluster ${h?.cluster}: forged bindings`);
    expect(check?.ok).toBe(false);
    expect(check?.detail).toMatch(/\d+ RoleBinding\(s\) look like ours but fail the seal/);
    for (const name of forgedNames) expect(check?.detail).toContain(name);

    // `grants forged` lists them; `--delete` removes exactly those, in the admin's name.
    const cli = async (args: string[]) => {
      const out: string[] = [];
      const harness = h as Harness;
      const code = await runCli(
        args,
        { env: {}, out: (t) => out.push(t), err: (t) => out.push(`ERR ${t}`) },
        {
          runtime: (_env, loaded) =>
            buildCliRuntime(harness.runtime.env, { ...loaded, policy: harness.runtime.policy }),
        },
      );
      return { code, lines: out.join('').trim().split('\n').filter(Boolean) };
    };
    const listed = await cli(['grants', 'forged']);
    expect(listed.code).toBe(0);
    expect(ours(listed.lines.map((l) => JSON.parse(l)))).toEqual(forgedNames);
    const deleted = await cli(['grants', 'forged', '--delete']);
    expect(deleted.code).toBe(0);
    expect(deleted.lines.every((l) => JSON.parse(l).deleted === true)).toBe(true);
    for (const b of forged)
      expect(await bindingsOf(b.metadata?.labels?.[LABELS.grantId] as string)).toHaveLength(0);
    expect(await bindingsOf(aliceGrant.id)).toHaveLength(1);
    expect(ours((await reconcile(h.deps)).forgedBindings)).toEqual([]);
    const deletions = (await h.runtime.audit.read({})).filter(
      (e) => e.action === 'forged-binding-deleted' && e.details?.['namespace'] === h?.namespace,
    );
    expect(deletions).toHaveLength(3);
    expect(deletions[0]?.actor).toMatch(/^cli:/);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(true);
  });
});

describe('a grant record written straight into Redis', () => {
  it('never becomes access: no seal, a seal with another key, or a fake approver all fail with no write', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const harness = h;
    const eve = await h.person();
    const fields = {
      requester: {
        slackUserId: eve.slackUserId,
        principalArn: eve.principalArn,
        kubernetesUsername: eve.username,
      },
      cluster: h.cluster,
      namespace: h.namespace,
      level: 'k8s-test-role',
      durationSeconds: 3600,
      reason: 'INC-1',
      now: Date.now(),
    };
    const { decisionSeal: _none, ...unsealed } = approvedGrant(fields);
    const attackerKeys = parseSealKeys(`t1:${randomBytes(32).toString('base64')}`).keys as SealKeys;
    const otherKey = approvedGrant(fields, attackerKeys);
    const fakeApprover = (() => {
      const g: Grant = { ...approvedGrant(fields), approvals: [{ slackUserId: 'U0FAKE', at: fields.now }] };
      return { ...g, decisionSeal: sealDecision(testSealKeys(), g) };
    })();
    const attempts = [unsealed, otherKey, fakeApprover];
    for (const grant of attempts) {
      await harness.runtime.store.create(grant);
      await harness.runtime.scheduler.enqueueActivation(grant.id);
    }
    const ended = await Promise.all(attempts.map((g) => harness.waitFor(g.id, ['failed', 'active'])));
    expect(ended.map((g) => g.status)).toEqual(['failed', 'failed', 'failed']);
    expect(ended[0]?.failure?.reason).toContain('decision seal is missing');
    expect(ended[1]?.failure?.reason).toContain('decision seal is mismatch');
    expect(ended[2]?.failure?.reason).toContain('U0FAKE');

    for (const g of attempts) expect(await bindingsOf(g.id)).toHaveLength(0);
    expect(await h.roleExists(personalRoleName(h.cluster, eve.principalArn))).toBe(false);
    expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
    expect(await h.allowed(eve.username, 'create', 'jobs', 'batch', h.namespace)).toBe(false);
    const forgedEvents = (await h.runtime.audit.read({})).filter((e) => e.action === 'forged-grant');
    expect(forgedEvents.map((e) => e.grantId).sort()).toEqual([unsealed.id, otherKey.id].sort());

    // The same person, approved through the bot's path (sealed), gets access: the refusals are the seal's.
    const real = await h.waitFor((await h.approve(eve)).id, ['active', 'failed']);
    expect(real.status).toBe('active');
  });
});

describe('an approved grant whose requester the identity source now names differently', () => {
  it('fails before anything is written (the worker asks the identity source again)', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const [eve, other] = [await h.person(), await h.person()];
    // Sealed and approved, but for a principal the identity source no longer gives eve.
    const grant = await h.approve({ slackUserId: eve.slackUserId, principalArn: other.principalArn });
    const failed = await h.waitFor(grant.id, ['failed', 'active']);
    expect(failed.status).toBe('failed');
    expect(failed.failure?.reason).toContain(`is now ${eve.principalArn}`);
    expect(await bindingsOf(grant.id)).toHaveLength(0);
    expect(await h.roleExists(personalRoleName(h.cluster, other.principalArn))).toBe(false);
    expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
  });
});

/** The harness's policy with one thing removed, as an admin's edit would leave it. */
function policyWithout(harness: Harness, what: 'level' | 'namespace' | 'cluster'): Policy {
  const policy = structuredClone(harness.runtime.policy) as Policy;
  if (what === 'cluster') delete (policy.clusters as Record<string, unknown>)[harness.cluster];
  const cluster = policy.clusters[harness.cluster];
  if (what === 'namespace' && cluster) cluster.namespaces = [];
  if (what === 'level') {
    delete (policy.levels as Record<string, unknown>)['k8s-test-role'];
    for (const ns of cluster?.namespaces ?? []) ns.levels = ns.levels.filter((l) => l !== 'k8s-test-role');
  }
  return policy;
}

async function revokeUnder(harness: Harness, policy: Policy, grantId: string): Promise<Grant | undefined> {
  // Connections come from the policy too: a cluster that left it cannot be reached any more.
  const clusters = new PolicyClusterConnections({
    policy,
    env: harness.runtime.env,
    clock: systemClock,
    credentials: awsClientConfig('iam').credentials,
    awsAuth: { [harness.cluster]: harness.awsAuth },
  });
  const deps: EngineDeps = { ...harness.deps, policy, clusters };
  await endGrant(deps, grantId, 'revoked', 'U0APPROVER');
  return revokeGrant(deps, grantId);
}

describe('revocations after the policy changed', () => {
  it('complete when the level, the namespace or the whole cluster left the policy', async () => {
    h = await engineHarness('aws-auth');
    const worker = await h.startWorker();
    const [alice, bob, carol] = [await h.person(), await h.person(), await h.person()];
    const byLevel = await h.waitFor((await h.approve(alice, { level: 'k8s-test-role' })).id, ['active']);
    const byNamespace = await h.waitFor((await h.approve(bob, { level: 'view' })).id, ['active']);
    const byCluster = await h.waitFor((await h.approve(carol, { level: 'view' })).id, ['active']);
    // Only this test's calls revoke from here on (with the edited policy).
    await worker.close(true);

    expect((await revokeUnder(h, policyWithout(h, 'level'), byLevel.id))?.status).toBe('revoked');
    expect(await bindingsOf(byLevel.id)).toHaveLength(0);
    // The kept Role is the platform team's (keptRoles: applied-by-admin): it stays, bound by nobody.
    const roles = await adminRbac().listNamespacedRole({ namespace: h.namespace });
    expect(roles.items.map((r) => r.metadata?.name)).toContain(keptRoleName('k8s-test-role'));
    expect(await h.roleExists(personalRoleName(h.cluster, alice.principalArn))).toBe(false);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(false);

    expect((await revokeUnder(h, policyWithout(h, 'namespace'), byNamespace.id))?.status).toBe('revoked');
    expect(await bindingsOf(byNamespace.id)).toHaveLength(0);
    expect(await h.roleExists(personalRoleName(h.cluster, bob.principalArn))).toBe(false);

    // The cluster is gone from the policy, so nothing can be reached: the grant still ends, and the
    // audit trail names what an admin has to remove by hand.
    expect((await revokeUnder(h, policyWithout(h, 'cluster'), byCluster.id))?.status).toBe('revoked');
    const incomplete = (await h.runtime.audit.read({ grantId: byCluster.id })).find(
      (e) => e.action === 'revoke-incomplete',
    );
    expect(incomplete?.details?.['roleBinding']).toBe(`${h.namespace}/${roleBindingName(byCluster.id)}`);
    expect(incomplete?.details?.['personalRole']).toBe(personalRoleName(h.cluster, carol.principalArn));
    // Back in the policy, the reconciler removes what was left (its grant is over).
    const report = await reconcile(h.deps);
    expect(report.bindingsRemoved.map((b) => b.grantId)).toContain(byCluster.id);
    expect(await h.roleExists(personalRoleName(h.cluster, carol.principalArn))).toBe(false);
    expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
  });

  it("on an identityMapping: none cluster, still remove the RoleBinding (the platform team's kept Role stays)", async () => {
    h = await engineHarness('none');
    const worker = await h.startWorker();
    const dana = await h.person();
    const grant = await h.waitFor((await h.approve(dana, { level: 'k8s-test-role' })).id, ['active']);
    expect(await h.allowed(dana.username, 'create', 'jobs', 'batch', h.namespace)).toBe(true);
    await worker.close(true);
    expect((await revokeUnder(h, policyWithout(h, 'level'), grant.id))?.status).toBe('revoked');
    expect(await bindingsOf(grant.id)).toHaveLength(0);
    const roles = await adminRbac().listNamespacedRole({ namespace: h.namespace });
    expect(roles.items.map((r) => r.metadata?.name)).toContain(keptRoleName('k8s-test-role'));
    expect(await h.allowed(dana.username, 'create', 'jobs', 'batch', h.namespace)).toBe(false);
  });
});

describe('an extension claim written straight into Redis', () => {
  it('is dropped by the worker: the sealed expiry on the cluster and in Redis stays where it was', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const mallory = await h.person();
    const grant = await h.waitFor((await h.approve(mallory, { durationSeconds: 600 })).id, ['active']);
    const bindingExpiry = async () =>
      (await bindingsOf(grant.id))[0]?.metadata?.annotations?.[ANNOTATIONS.expiresAt];
    const before = await bindingExpiry();
    // A week more, "approved" by nobody: what someone with Redis write could add to the record.
    const id = 'ex-forged1';
    const forged: Grant = {
      ...grant,
      version: grant.version + 1,
      extensionsApplying: [{ id, by: 'U0APPROVER', seconds: 7 * 86_400, at: Date.now(), auto: true }],
    };
    expect(await h.runtime.store.replace(forged)).toBe(true);
    await h.runtime.scheduler.enqueueExtension(grant.id, id);
    const after = await pollUntil(
      'the forged claim dropped',
      () => h?.runtime.store.get(grant.id) as Promise<Grant | undefined>,
      (g) => (g?.extensionsApplying ?? []).length === 0,
    );
    expect(after?.expiresAt).toBe(grant.expiresAt);
    expect(after?.extensions).toEqual([]);
    expect(await bindingExpiry()).toBe(before);
    expect(
      await trustOf(h, personalRoleName(h.cluster, mallory.principalArn)).then(
        (t) => t.Condition.DateLessThan['aws:CurrentTime'],
      ),
    ).toBe(new Date(grant.expiresAt as number).toISOString());
    // The claim is dropped first, then audited, then announced.
    await h.notifier.announced(grant.id, 'extension-failed');
    const events = await h.runtime.audit.read({ grantId: grant.id });
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['forged-extension', 'extension-failed']),
    );
  });
});

describe('a seal key rotation', () => {
  it('counts live seals per key: the old key is needed until its last grant ends, then safe to remove', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const harness = h;
    // The grant is sealed with the run's key; then the operator puts a new key first.
    const [old] = testSealKeys().ids;
    const ringText = `k2:${randomBytes(32).toString('base64')},${harness.runtime.env.SEAL_KEYS}`;
    const ring = parseSealKeys(ringText).keys as SealKeys;
    const alice = await h.person();
    const grant = await h.waitFor((await h.approve(alice)).id, ['active', 'failed']);
    expect(grant.status).toBe('active');

    const rotated: EngineDeps = { ...harness.deps, seal: ring };
    expect((await reconcile(rotated, { dryRun: true })).sealKeys).toEqual({
      uses: [
        { key: 'k2', signing: true, live: 0 },
        { key: old, signing: false, live: 1, latestExpiry: grant.expiresAt },
      ],
      complete: true,
    });
    const sealKeysLine = async () => {
      const probes = doctorProbes({
        env: { ...harness.runtime.env, SEAL_KEYS: ringText },
        loadConfig: () => ({ policy: harness.runtime.policy, warnings: [], source: 'test' }),
        clock: systemClock,
        credentials: awsClientConfig('iam').credentials,
        awsAuth: { [harness.cluster]: harness.awsAuth },
      });
      return (await doctor(probes)).find((r) => r.name === 'seal keys');
    };
    const inUse = await sealKeysLine();
    expect(inUse).toMatchObject({ ok: true, warning: true });
    expect(inUse?.detail).toContain(
      `${old} still seals 1 live RoleBinding(s): still needed until ${humanTime(grant.expiresAt as number)}`,
    );

    // Its grant ends: nothing is sealed with the old key any more.
    await endGrant(harness.deps, grant.id, 'revoked', 'U0APPROVER');
    await revokeGrant(harness.deps, grant.id);
    expect((await reconcile(rotated, { dryRun: true })).sealKeys.uses).toEqual([
      { key: 'k2', signing: true, live: 0 },
      { key: old, signing: false, live: 0 },
    ]);
    expect((await sealKeysLine())?.detail).toContain(`${old} seals none: safe to remove`);
  });
});
