// The hard cases on real servers: overlapping grants, a worker killed mid-grant, Redis emptied while a
// grant is active, 200 grants at once on one aws-auth, and bad input that must change nothing.
import { isDeepStrictEqual } from 'node:util';
import { ListRolesCommand } from '@aws-sdk/client-iam';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { AccessError } from '../../src/domain/errors.js';
import { LABELS, personalRoleName } from '../../src/domain/names.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { plan } from '../../src/operator/plan.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig } from '../platform/context.js';
import {
  engineHarness,
  eventually,
  type Harness,
  ORIGINAL_AWS_AUTH,
  readAwsAuth,
  workerDyingAfter,
} from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const rbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
const bindingsOf = async (grantId: string) =>
  (await rbac().listRoleBindingForAllNamespaces({ labelSelector: `${LABELS.grantId}=${grantId}` })).items;
const trustUntil = async (harness: Harness, roleName: string) => {
  const { GetRoleCommand } = await import('@aws-sdk/client-iam');
  const role = await harness.iam.send(new GetRoleCommand({ RoleName: roleName }));
  return JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '')).Statement[0].Condition
    .DateLessThan['aws:CurrentTime'] as string;
};
const ourRoles = async (harness: Harness) => {
  const roles = [];
  let marker: string | undefined;
  do {
    const page = await harness.iam.send(
      new ListRolesCommand({
        PathPrefix: `/eks-access/${harness.cluster}/`,
        ...(marker ? { Marker: marker } : {}),
      }),
    );
    roles.push(...(page.Roles ?? []));
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return roles;
};

describe('overlap', () => {
  it('keeps shared pieces while the later grant lives, then removes them', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const alice = await h.person();
    const short = await h.waitFor((await h.approve(alice, { durationSeconds: 3 })).id, ['active']);
    const long = await h.waitFor((await h.approve(alice, { durationSeconds: 9 })).id, ['active']);
    const roleName = personalRoleName(h.cluster, alice.principalArn);
    expect(await trustUntil(h, roleName)).toBe(new Date(long.expiresAt as number).toISOString());

    await h.waitFor(short.id, ['expired'], 15_000);
    expect(Date.now()).toBeLessThan(long.expiresAt as number);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(true);
    expect(await h.roleExists(roleName)).toBe(true);
    expect(await trustUntil(h, roleName)).toBe(new Date(long.expiresAt as number).toISOString());
    expect((await readAwsAuth(h))['mapRoles']).toContain(roleName);

    await h.waitFor(long.id, ['expired'], 20_000);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(false);
    expect(await h.roleExists(roleName)).toBe(false);
    expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
  });
});

describe('crash', () => {
  it('a worker killed between steps: a fresh worker finishes the grant, no duplicates', async () => {
    h = await engineHarness('aws-auth');
    // The first worker "dies" after the identity step: its job never returns and its lock lapses.
    const doomed = await workerDyingAfter(h, 'identity', { lockDuration: 1000 });
    const alice = await h.person();
    const grant = await h.approve(alice, { durationSeconds: 3600 });
    await doomed.die();
    expect((await h.runtime.store.get(grant.id))?.status).toBe('approved');

    await h.startWorker({ lockDuration: 1000 });
    const active = await h.waitFor(grant.id, ['active'], 30_000);
    expect(await bindingsOf(grant.id)).toHaveLength(1);
    const roleName = personalRoleName(h.cluster, alice.principalArn);
    const entries = parse((await readAwsAuth(h))['mapRoles'] ?? '') as { rolearn: string }[];
    expect(entries.filter((e) => e.rolearn.endsWith(`/${roleName}`))).toHaveLength(1);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(true);
    await h.notifier.announced(active.id, 'activated');
    expect(h.notifier.kinds(active.id).filter((k) => k === 'activated')).toHaveLength(1);

    await endGrant(h.deps, grant.id, 'revoked', 'U0APPROVER');
    await h.waitFor(grant.id, ['revoked']);
    expect(await bindingsOf(grant.id)).toHaveLength(0);
    expect(await h.roleExists(roleName)).toBe(false);
    expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
  }, 60_000);
});

describe('crash during revocation', () => {
  // The first worker "dies" after deleting the RoleBinding, before the identity teardown: the person's
  // IAM role and aws-auth entry are still there and the grant is `revoking`.
  it.each(['a fresh worker', 'the reconciler'] as const)(
    'killed after the RoleBinding delete: %s finishes, nothing remains, no errors',
    async (finisher) => {
      h = await engineHarness('aws-auth');
      // Short stalled checks from the start: BullMQ's stalled check is shared by the queue's workers
      // and runs at most once per the interval of the worker that ran it last.
      const first = await h.startWorker({ lockDuration: 1000 });
      const alice = await h.person();
      const grant = await h.waitFor((await h.approve(alice)).id, ['active']);
      await first.close();
      const doomed = await workerDyingAfter(h, 'revoke-binding', { lockDuration: 1000 });
      await endGrant(h.deps, grant.id, 'revoked', 'U0APPROVER');
      await doomed.die();
      const roleName = personalRoleName(h.cluster, alice.principalArn);
      expect((await h.runtime.store.get(grant.id))?.status).toBe('revoking');
      expect(await bindingsOf(grant.id)).toHaveLength(0);
      expect(await h.roleExists(roleName)).toBe(true);
      expect((await readAwsAuth(h))['mapRoles']).toContain(roleName);

      if (finisher === 'a fresh worker') {
        await h.startWorker({ lockDuration: 1000 });
        await h.waitFor(grant.id, ['revoked'], 30_000);
      } else {
        const report = await reconcile(h.deps);
        expect(report.errors).toEqual([]);
        expect(report.grantsEnded).toContain(grant.id);
        expect((await h.runtime.store.get(grant.id))?.status).toBe('revoked');
      }
      expect(await h.roleExists(roleName)).toBe(false);
      expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
      expect(await h.allowed(alice.username, 'list', 'pods', '', h.namespace)).toBe(false);
      await h.notifier.announced(grant.id, 'ended');
      expect(h.notifier.kinds(grant.id).filter((k) => k === 'ended')).toHaveLength(1);
      // Once more over the same state: nothing to do, nothing fails.
      const again = await reconcile(h.deps);
      expect(again.errors).toEqual([]);
      expect([...again.grantsEnded, ...again.bindingsRemoved.map((b) => b.grantId)]).toEqual([]);
      expect(again.identitiesRemoved).toEqual([]);
      expect((await h.runtime.store.get(grant.id))?.status).toBe('revoked');
    },
    60_000,
  );
});

describe('Redis lost', () => {
  it('the reconciler still revokes on time from cluster state alone', async () => {
    h = await engineHarness('aws-auth');
    const first = await h.startWorker();
    const alice = await h.person();
    const active = await h.waitFor((await h.approve(alice, { durationSeconds: 4 })).id, ['active']);
    await first.close();
    // Empty this instance's Redis: grants, jobs, schedules, everything under the prefix.
    const keys = await h.runtime.redis.keys(`${h.runtime.env.REDIS_PREFIX}*`);
    expect(keys.length).toBeGreaterThan(0);
    await h.runtime.redis.del(...keys);
    expect(await h.runtime.store.get(active.id)).toBeUndefined();

    // A fresh worker (as after a Redis failover) with a 500 ms reconciler.
    await h.startWorker({ reconcileEveryMs: 500 });
    const roleName = personalRoleName(h.cluster, alice.principalArn);
    await eventually(
      'access gone after expiry',
      async () =>
        !(await h!.allowed(alice.username, 'list', 'pods', '', h!.namespace)) &&
        !(await h!.roleExists(roleName)) &&
        isDeepStrictEqual(await readAwsAuth(h!), ORIGINAL_AWS_AUTH),
      20_000,
    );
    const lateBy = Date.now() - (active.expiresAt as number);
    expect(lateBy).toBeGreaterThanOrEqual(0);
    expect(lateBy).toBeLessThan(5_000);
    expect(await bindingsOf(active.id)).toHaveLength(0);
  });
});

describe('200 concurrent grants in aws-auth mode', () => {
  it('all land, then all go, and aws-auth equals its original entry for entry', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const harness = h;
    const people = await Promise.all(Array.from({ length: 200 }, () => harness.person()));
    const started = Date.now();
    const grants = await Promise.all(people.map((p) => harness.approve(p, { durationSeconds: 3600 })));
    const active = await Promise.all(grants.map((g) => harness.waitFor(g.id, ['active', 'failed'], 170_000)));
    const activationMs = Date.now() - started;
    expect(active.filter((g) => g.status !== 'active').map((g) => g.failure)).toEqual([]);
    // Exactly one CreateRole call per grant (each grant is a new person's first): no create-then-create.
    // Counted as calls: under load the SDK may retry one whose answer timed out, which is the SDK's business.
    expect(harness.called('CreateRoleCommand')).toBe(200);
    const entries = parse((await readAwsAuth(h))['mapRoles'] ?? '') as {
      rolearn: string;
      username: string;
    }[];
    for (const p of people) {
      expect(entries.filter((e) => e.username === p.username)).toHaveLength(1);
    }
    expect(entries).toHaveLength(202);
    expect((await ourRoles(h)).length).toBe(200);

    const ending = Date.now();
    await Promise.all(grants.map((g) => endGrant(harness.deps, g.id, 'revoked', 'U0APPROVER')));
    await Promise.all(grants.map((g) => harness.waitFor(g.id, ['revoked'], 170_000)));
    const revokeMs = Date.now() - ending;
    expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
    expect(await ourRoles(h)).toEqual([]);
    console.log(`[200 grants] all active in ${activationMs} ms, all revoked in ${revokeMs} ms`);
  }, 360_000);
});

describe('bad input changes nothing', () => {
  const snapshot = async (harness: Harness) => ({
    awsAuth: await readAwsAuth(harness),
    bindings: (await rbac().listNamespacedRoleBinding({ namespace: harness.namespace })).items.length,
    roles: (await rbac().listNamespacedRole({ namespace: harness.namespace })).items.length,
    iamRoles: (await ourRoles(harness)).length,
  });

  it('plan() refuses bad requests with an error naming the problem', async () => {
    h = await engineHarness('aws-auth');
    const requester = { slackUserId: 'U0ALICE', principalArn: 'arn:aws:iam::123456789012:user/alice' };
    const ok = { namespace: h.namespace, cluster: h.cluster, reason: 'INC-1', requester };
    const kind = async (request: Parameters<typeof plan>[1]) =>
      plan(h!.deps, request).then(
        () => 'ok',
        (e: AccessError) => `${e.kind}: ${e.message}`,
      );
    expect(await kind(ok)).toBe('ok');
    expect(await kind({ ...ok, namespace: 'Not_A_Namespace' })).toMatch(
      /^bad_input: .*not a valid namespace/,
    );
    expect(await kind({ ...ok, cluster: 'nowhere' })).toMatch(/^not_found: .*no cluster "nowhere"/);
    expect(await kind({ ...ok, level: 'root' })).toMatch(/^not_found: .*"root" is not offered/);
    expect(await kind({ ...ok, duration: '0s' })).toMatch(/^bad_input: .*not a duration/);
    expect(await kind({ ...ok, duration: '5h' })).toMatch(/^bad_input: You asked for 5h; .* allows at most/);
    expect(await kind({ ...ok, requester: { ...requester, principalArn: 'alice' } })).toMatch(
      /^bad_input: .*not an IAM/,
    );
    const dry = await plan(h.deps, ok);
    expect(dry.text.trustPolicy).toContain('aws:CurrentTime');
    expect(dry.text.roleBinding).toContain('kind: RoleBinding');
  });

  it('grants with bad input fail with a reason, and no server changed', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const before = await snapshot(h);
    const alice = await h.person();
    const cases: [Partial<Parameters<Harness['approve']>[1]> & { principalArn?: string }, RegExp][] = [
      [{ namespace: 'Bad_NS' }, /not a valid namespace/],
      [{ durationSeconds: 0 }, /not allowed/],
      [{ durationSeconds: 5 * 3600 }, /not allowed/],
      [{ level: 'no-such-level' }, /no longer in the policy/],
      [{ principalArn: 'alice' }, /not an IAM user or role ARN/],
      // Not in the policy: the worker's re-check refuses it before it asks the API server.
      [{ namespace: 'no-such-namespace-here' }, /cannot be requested/],
    ];
    for (const [change, reason] of cases) {
      const { principalArn, ...options } = change;
      const grant = await h.approve({ ...alice, ...(principalArn ? { principalArn } : {}) }, options);
      const failed = await h.waitFor(grant.id, ['failed', 'active']);
      expect(failed.status).toBe('failed');
      expect(failed.failure?.reason).toMatch(reason);
      expect(await bindingsOf(grant.id)).toHaveLength(0);
    }
    expect(await snapshot(h)).toEqual(before);
  });

  it('an aws-auth that does not parse: the grant fails, the ConfigMap and IAM are untouched', async () => {
    h = await engineHarness('aws-auth');
    const broken = { ...ORIGINAL_AWS_AUTH, mapRoles: '- rolearn: [unclosed\n  username: x\n' };
    await h.core.replaceNamespacedConfigMap({
      ...h.awsAuth,
      body: { metadata: { name: h.awsAuth.name, namespace: h.awsAuth.namespace }, data: broken },
    });
    await h.startWorker();
    const before = await snapshot(h);
    const grant = await h.approve(await h.person());
    const failed = await h.waitFor(grant.id, ['failed', 'active']);
    expect(failed.status).toBe('failed');
    expect(failed.failure?.reason).toMatch(/mapRoles is not valid YAML/);
    expect(await snapshot(h)).toEqual(before);
    expect(await readAwsAuth(h)).toEqual(broken);
    // The reconciler reports the same problem instead of touching it.
    const report = await reconcile(h.deps);
    expect(report.errors.map((e) => e.message).join()).toMatch(/not valid YAML/);
    expect(await readAwsAuth(h)).toEqual(broken);
  });
});

describe('a grant activated while the reconciler sweeps', () => {
  // The sweep lists bindings and roles, then the mapping entries. An activation that lands in between
  // (RoleBinding, role, entry) leaves an entry whose role the sweep has not seen: before the entry went
  // under its role's lock with the bindings read again, the reconciler removed it from a live grant.
  it('keeps the new grant’s aws-auth entry', async () => {
    h = await engineHarness('aws-auth');
    const harness = h;
    await harness.startWorker();
    const alice = await harness.person();
    let activated: string | undefined;
    const racing = {
      ...harness.deps,
      clusters: {
        forCluster: async (cluster: string) => {
          const backends = await harness.deps.clusters.forCluster(cluster);
          const mapping = Object.create(backends.mapping) as typeof backends.mapping;
          mapping.list = async () => {
            if (!activated) {
              const grant = await harness.approve(alice, { durationSeconds: 600 });
              activated = (await harness.waitFor(grant.id, ['active'], 30_000)).id;
            }
            return backends.mapping.list();
          };
          return { ...backends, mapping };
        },
      },
    };
    const report = await reconcile(racing);
    expect(activated).toBeDefined();
    expect(report.errors).toEqual([]);
    expect(report.mappingsRemoved).toEqual([]);
    const entries = parse((await readAwsAuth(harness))['mapRoles'] ?? '') as { username: string }[];
    expect(entries.filter((e) => e.username === alice.username)).toHaveLength(1);
    expect(await harness.allowed(alice.username, 'list', 'pods', '', harness.namespace)).toBe(true);
  });
});
