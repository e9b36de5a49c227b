// A cluster moving from aws-auth to access entries (issue #23, item 4): with `identityMapping: auto`, a grant
// is mapped the way the cluster reads at its activation, so grants made before the move have an aws-auth
// entry and grants made after an access entry. Revocation must remove whatever form the grant has: on
// API_AND_CONFIG_MAP EKS still reads aws-auth, so an entry left there keeps the person mapped (and the
// login probe's refusal would never come). The connection gives such a cluster's backends the aws-auth it
// moved on from as `formerMapping` (src/adapters/k8s/cluster-connections.ts; wiring tried on the EKS
// emulator in auth-mode.int.test.ts); here the engine uses it on the real API server and moto, with the
// aws-auth entry written by our own adapter as an activation before the move wrote it.
import { ListAccessEntriesCommand } from '@aws-sdk/client-eks';
import { afterEach, describe, expect, it } from 'vitest';
import { AwsAuthMapping } from '../../src/adapters/k8s/aws-auth.js';
import { KubeApis } from '../../src/adapters/k8s/rbac.js';
import { personalRoleArn } from '../../src/domain/names.js';
import { ownMappingsFor } from '../../src/domain/plan.js';
import { activateGrant } from '../../src/engine/activate.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { revokeGrant } from '../../src/engine/revoke.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig } from '../platform/context.js';
import { engineHarness, type Harness, ORIGINAL_MAP_ROLES, readAwsAuth } from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The harness's engine as it runs on an auto cluster that moved to API_AND_CONFIG_MAP. */
function movedOn(harness: Harness): { deps: EngineDeps; former: AwsAuthMapping } {
  const former = new AwsAuthMapping(
    new KubeApis(async () => adminKubeConfig()),
    ownMappingsFor(harness.deps.policy, harness.cluster),
    harness.awsAuth,
  );
  const clusters = {
    forCluster: async (cluster: string) => ({
      ...(await harness.deps.clusters.forCluster(cluster)),
      formerMapping: former,
    }),
  };
  return { deps: { ...harness.deps, clusters }, former };
}

const roleArnOf = (harness: Harness, principalArn: string) =>
  personalRoleArn(
    harness.deps.policy.clusters[harness.cluster]?.accountId ?? '',
    harness.deps.policy.settings.iamPath,
    harness.cluster,
    principalArn,
  );

describe('a cluster that moved from aws-auth to access entries', () => {
  it('revocation removes both forms of the person’s mapping; foreign entries stay byte for byte', async () => {
    h = await engineHarness('access-entries');
    const { deps, former } = movedOn(h);
    const alice = await h.person();
    const roleArn = roleArnOf(h, alice.principalArn);
    // Before the move her grant was mapped in aws-auth (written by our adapter, as that activation wrote it).
    await former.upsert({ roleArn, username: alice.username, groups: [] });
    expect((await former.list()).map((e) => e.username)).toEqual([alice.username]);

    // After the move a new grant of hers is an access entry.
    const grant = await h.approve(alice);
    expect((await activateGrant(deps, grant.id)).status).toBe('active');
    const entries = async () =>
      (await h?.eks.send(new ListAccessEntriesCommand({ clusterName: h.cluster })))?.accessEntries ?? [];
    expect(await entries()).toContain(roleArn);

    await endGrant(deps, grant.id, 'revoked', 'U0APPROVER');
    expect((await revokeGrant(deps, grant.id))?.status).toBe('revoked');
    expect(await former.list()).toEqual([]);
    expect((await readAwsAuth(h))['mapRoles']).toBe(ORIGINAL_MAP_ROLES);
    expect(await entries()).not.toContain(roleArn);
    expect(await h.roleExists(roleArn.split('/').pop() ?? '')).toBe(false);
  });

  it('the reconciler removes an aws-auth entry of ours left by a grant revoked before the fix', async () => {
    h = await engineHarness('access-entries');
    const { deps, former } = movedOn(h);
    const bob = await h.person();
    // Her grant ended while revocation knew only the cluster's mapping: the role went, the aws-auth entry stayed.
    await former.upsert({ roleArn: roleArnOf(h, bob.principalArn), username: bob.username, groups: [] });

    // The engine of a cluster that did not move on does not look in aws-auth at all.
    await reconcile(h.deps);
    expect((await former.list()).map((e) => e.username)).toEqual([bob.username]);

    const report = await reconcile(deps);
    expect(report.errors).toEqual([]);
    expect(report.mappingsRemoved.map((m) => m.roleArn)).toContain(
      roleArnOf(h, bob.principalArn).replace(/role\/.*\//, 'role/'),
    );
    expect(await former.list()).toEqual([]);
    expect((await readAwsAuth(h))['mapRoles']).toBe(ORIGINAL_MAP_ROLES);
  });
});
