// The engine's access-policy levels on the emulators (issue #23), without a login: what the worker writes
// to EKS (ministack) and IAM (moto), what it never writes (anything in Kubernetes), and what cluster state
// cannot do — widen an association, or keep an identity alive with a tag whose seal does not hold.
// The person's own kubectl through EKS's authorizer is test/e2e/login-access-policy.test.ts.
import {
  AssociateAccessPolicyCommand,
  DescribeAccessEntryCommand,
  ListAssociatedAccessPoliciesCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
} from '@aws-sdk/client-eks';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { doctorProbes } from '../../src/adapters/doctor-probes.js';
import { approveExtension, requestExtension } from '../../src/bot/request-extension.js';
import type { Policy } from '../../src/config/policy.js';
import { isoTime, systemClock } from '../../src/domain/clock.js';
import { personalRoleFor } from '../../src/domain/plan.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { doctor } from '../../src/operator/doctor.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig, awsClientConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { startPrivateRedis } from '../support/private-redis.js';
import { engineHarness, flowDeps, type Harness } from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const EDIT = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';

async function entryOf(harness: Harness, roleArn: string) {
  const clusterName = harness.cluster;
  const described = await harness.eks
    .send(new DescribeAccessEntryCommand({ clusterName, principalArn: roleArn }))
    .catch(() => undefined);
  const arn = described?.accessEntry?.accessEntryArn;
  if (!arn) return undefined;
  const tags = (await harness.eks.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? {};
  const associations = (
    await harness.eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn: roleArn }))
  ).associatedAccessPolicies?.map((p) => ({ policyArn: p.policyArn, ...p.accessScope }));
  return { arn, tags, associations, username: described?.accessEntry?.username };
}

/** doctor's associations check of the harness's cluster, as `eks-access doctor` runs it. */
async function associationsCheck(harness: Harness) {
  const probes = doctorProbes({
    env: harness.runtime.env,
    loadConfig: () => ({ policy: harness.runtime.policy as Policy, warnings: [], source: 'test' }),
    clock: systemClock,
    credentials: awsClientConfig('iam').credentials,
  });
  return (await doctor(probes)).find((r) => r.name === `cluster ${harness.cluster}: associations`);
}

describe('access-policy levels in the engine', () => {
  it('two grants share one association; the worker writes nothing in Kubernetes; revoking one keeps the other; the last one takes entry and role', async () => {
    h = await engineHarness('access-entries', { accessPolicy: true });
    await h.startWorker();
    const alice = await h.person();
    const role = personalRoleFor(h.deps.policy, { cluster: h.cluster, ...alice, expiresAt: 0 });
    const a = await h.approve(alice, { level: 'edit' });
    await h.waitFor(a.id, ['active']);
    const b = await h.approve(alice, { level: 'edit', namespace: `${h.namespace}-b` });
    await h.waitFor(b.id, ['active']);

    const entry = await entryOf(h, role.arn);
    expect(entry?.username).toBe(alice.username);
    expect(entry?.associations).toEqual([
      { policyArn: EDIT, type: 'namespace', namespaces: [h.namespace, `${h.namespace}-b`].sort() },
    ]);
    expect(
      Object.keys(entry?.tags ?? {})
        .filter((k) => k.startsWith('eks-access:grant:'))
        .sort(),
    ).toEqual([`eks-access:grant:${a.id}`, `eks-access:grant:${b.id}`].sort());
    // doctor shows what our entries hold, from EKS.
    expect(await associationsCheck(h)).toMatchObject({
      ok: true,
      detail: `1 access entry of ours: AmazonEKSEditPolicy in ${[h.namespace, `${h.namespace}-b`].sort().join(', ')} (1 person)`,
    });
    // Nothing in the cluster: no RoleBinding names her.
    const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const bindings = await rbac.listRoleBindingForAllNamespaces();
    expect(bindings.items.filter((x) => x.subjects?.some((s) => s.name === alice.username))).toEqual([]);

    await endGrant(h.deps, a.id, 'revoked', 'U0APPROVER');
    await h.waitFor(a.id, ['revoked']);
    const after = await entryOf(h, role.arn);
    expect(after?.associations).toEqual([
      { policyArn: EDIT, type: 'namespace', namespaces: [`${h.namespace}-b`] },
    ]);
    expect(after?.tags[`eks-access:grant:${a.id}`]).toBeUndefined();
    expect(await h.roleExists(role.name)).toBe(true);

    await endGrant(h.deps, b.id, 'revoked', 'U0APPROVER');
    await h.waitFor(b.id, ['revoked']);
    expect(await entryOf(h, role.arn)).toBeUndefined();
    expect(await h.roleExists(role.name)).toBe(false);
    // One association write per grant and one narrowing; the last revocation disassociates before it
    // deletes the entry (should the delete fail, the access is already gone).
    expect(h.called('AssociateAccessPolicyCommand')).toBe(3);
    expect(h.called('DisassociateAccessPolicyCommand')).toBe(1);
  }, 90_000);

  it('cluster state widens nothing: a namespace or a cluster-wide association added by hand, or a tag edited to another namespace, is dropped, never kept', async () => {
    h = await engineHarness('access-entries', { accessPolicy: true });
    await h.startWorker();
    const alice = await h.person();
    const role = personalRoleFor(h.deps.policy, { cluster: h.cluster, ...alice, expiresAt: 0 });
    const a = await h.approve(alice, { level: 'edit' });
    await h.waitFor(a.id, ['active']);
    const entry = await entryOf(h, role.arn);
    const tag = entry?.tags[`eks-access:grant:${a.id}`] ?? '';
    // Someone with EKS write rights widens her access: another namespace, a cluster-wide view, and a copy of
    // her grant's tag pointing at prod.
    await h.eks.send(
      new AssociateAccessPolicyCommand({
        clusterName: h.cluster,
        principalArn: role.arn,
        policyArn: EDIT,
        accessScope: { type: 'namespace', namespaces: [h.namespace, 'prod'] },
      }),
    );
    await h.eks.send(
      new AssociateAccessPolicyCommand({
        clusterName: h.cluster,
        principalArn: role.arn,
        policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy',
        accessScope: { type: 'cluster' },
      }),
    );
    await h.eks.send(
      new TagResourceCommand({
        resourceArn: entry?.arn ?? '',
        tags: { 'eks-access:grant:ea-forged00': tag.replace(`${h.namespace}/`, 'prod/') },
      }),
    );
    // doctor names what no grant could have given her.
    const check = await associationsCheck(h);
    expect(check?.ok).toBe(false);
    expect(check?.detail).toContain(`${alice.username}: AmazonEKSViewPolicy cluster-wide`);
    expect(check?.detail).toContain(`${alice.username}: AmazonEKSEditPolicy in prod`);
    // The reconciler only takes away: it never uses the forged tag (not sealed), and cuts the hand-made
    // associations back...
    const report = await reconcile(h.deps);
    expect(report.errors).toEqual([]);
    // The sweep cut back what no sealed grant explains: prod, and the cluster-wide view.
    expect(report.associationsNarrowed.map((n) => n.removed).sort()).toEqual(['cluster-wide', 'prod']);
    expect((await entryOf(h, role.arn))?.associations).toEqual([
      { policyArn: EDIT, type: 'namespace', namespaces: [h.namespace] },
    ]);
    // ...and the next change of hers, a grant in the other namespace, keeps only what sealed grants explain.
    const b = await h.approve(alice, { level: 'edit', namespace: `${h.namespace}-b` });
    await h.waitFor(b.id, ['active']);
    const widened = await entryOf(h, role.arn);
    expect(widened?.associations?.find((x) => x.policyArn === EDIT)).toEqual({
      policyArn: EDIT,
      type: 'namespace',
      namespaces: [h.namespace, `${h.namespace}-b`].sort(),
    });
    // Revoking one grant removes what no sealed live grant explains (the cluster-wide view).
    await endGrant(h.deps, a.id, 'revoked', 'U0APPROVER');
    await h.waitFor(a.id, ['revoked']);
    expect((await entryOf(h, role.arn))?.associations).toEqual([
      { policyArn: EDIT, type: 'namespace', namespaces: [`${h.namespace}-b`] },
    ]);
    // The forged tag keeps nothing alive once the last real grant ends.
    await endGrant(h.deps, b.id, 'revoked', 'U0APPROVER');
    await h.waitFor(b.id, ['revoked']);
    expect(await entryOf(h, role.arn)).toBeUndefined();
    expect(await h.roleExists(role.name)).toBe(false);
  }, 90_000);

  it("an extension seals the grant's tag again with the later expiry; the role's trust follows", async () => {
    h = await engineHarness('access-entries', { accessPolicy: true });
    await h.startWorker();
    const engine = h;
    const alice = await h.person();
    const role = personalRoleFor(h.deps.policy, { cluster: h.cluster, ...alice, expiresAt: 0 });
    const grant = await h.approve(alice, { level: 'edit', durationSeconds: 1800 });
    const active = await h.waitFor(grant.id, ['active']);
    const tagExpiry = async () =>
      Number((await entryOf(engine, role.arn))?.tags[`eks-access:grant:${grant.id}`]?.split('/')[3]);
    expect(await tagExpiry()).toBe(active.expiresAt);

    const deps = flowDeps(h);
    const asked = await requestExtension(deps, grant.id, alice.slackUserId, '30m');
    const id = asked.grant.extensionRequest?.id;
    expect((await approveExtension(deps, grant.id, 'U0APPROVER', { id })).kind).toBe('applying');
    const extended = await pollUntil(
      `grant ${grant.id} to be extended`,
      () => engine.runtime.store.get(grant.id),
      (g) => g?.extensions.length === 1 && (g.extensionsApplying ?? []).length === 0,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(extended?.expiresAt).toBe((active.expiresAt as number) + 30 * 60_000);
    expect(await tagExpiry()).toBe(extended?.expiresAt);
    const trust = decodeURIComponent(
      (await h.iam.send(new GetRoleCommand({ RoleName: role.name }))).Role?.AssumeRolePolicyDocument ?? '',
    );
    expect(trust).toContain(isoTime(extended?.expiresAt as number));
  }, 60_000);

  it('after Redis lost its data, the reconciler rebuilds the record from the sealed tag; it can only end, and ending it takes the access', async () => {
    const redis = await startPrivateRedis('access-policy-flush');
    try {
      h = await engineHarness('access-entries', { accessPolicy: true, redisUrl: redis.url });
      await h.startWorker();
      const alice = await h.person();
      const role = personalRoleFor(h.deps.policy, { cluster: h.cluster, ...alice, expiresAt: 0 });
      const grant = await h.waitFor((await h.approve(alice, { level: 'edit' })).id, ['active']);
      const admin = new Redis(redis.url);
      await admin.flushall();
      admin.disconnect();

      const report = await reconcile(h.deps);
      expect(report.errors).toEqual([]);
      expect(report.grantsRebuilt).toEqual([
        { cluster: h.cluster, grantId: grant.id, requester: alice.slackUserId },
      ]);
      const rebuilt = await h.runtime.store.get(grant.id);
      expect(rebuilt).toMatchObject({
        status: 'active',
        namespace: h.namespace,
        level: 'edit',
        expiresAt: grant.expiresAt,
        rebuilt: { from: 'access-entry-tag' },
      });
      // Nothing was taken away by the sweep, and nothing added.
      expect((await entryOf(h, role.arn))?.associations).toEqual([
        { policyArn: EDIT, type: 'namespace', namespaces: [h.namespace] },
      ]);
      await endGrant(h.deps, grant.id, 'revoked', 'U0APPROVER');
      await h.waitFor(grant.id, ['revoked']);
      expect(await entryOf(h, role.arn)).toBeUndefined();
    } finally {
      await h?.close();
      h = undefined;
      await redis.stop();
    }
  }, 60_000);
});
