// A personal role deleted by hand and created again under the same ARN during a live grant: EKS bound the
// access entry to the old role's unique id, so it maps nobody. The reconciler finds such an entry (older
// than its role) and removes it; an entry newer than its role is left alone. (Activation replaces such an
// entry itself when it creates the role: test/e2e/login.test.ts, *a stale access entry*.)

import { DescribeAccessEntryCommand } from '@aws-sdk/client-eks';
import { CreateRoleCommand, DeleteRoleCommand, GetRoleCommand } from '@aws-sdk/client-iam';
import { afterEach, describe, expect, it } from 'vitest';
import { personalRoleFor } from '../../src/domain/plan.js';
import { IN_FLIGHT_MS, reconcile } from '../../src/engine/reconcile.js';
import { engineHarness, type Harness } from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('access entries older than their role', () => {
  it('are removed by the reconciler; an entry newer than its role is kept', async () => {
    h = await engineHarness('access-entries');
    await h.startWorker();
    const alice = await h.person();
    await h.waitFor((await h.approve(alice, { durationSeconds: 3600 })).id, ['active']);
    const role = personalRoleFor(h.deps.policy, { cluster: h.cluster, ...alice, expiresAt: 0 });
    const clusterName = h.cluster;
    const entryExists = () =>
      h?.eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn: role.arn })).then(
        () => true,
        () => false,
      );
    // Sweeps as they would run a few minutes on (past activation's own window), with nothing stale.
    const later = { ...h.deps, clock: { now: () => Date.now() + IN_FLIGHT_MS + 60_000 } };
    const quiet = await reconcile(later);
    expect(quiet.errors).toEqual([]);
    expect(quiet.mappingsRemoved).toEqual([]);
    expect(await entryExists()).toBe(true);

    // Someone deletes her role and makes it again, same ARN, a second later (IAM dates to the second).
    const made = (await h.iam.send(new GetRoleCommand({ RoleName: role.name }))).Role;
    await h.iam.send(new DeleteRoleCommand({ RoleName: role.name }));
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // IAM's CreateDate has whole seconds
    await h.iam.send(
      new CreateRoleCommand({
        RoleName: role.name,
        Path: role.path,
        AssumeRolePolicyDocument: made?.AssumeRolePolicyDocument
          ? decodeURIComponent(made.AssumeRolePolicyDocument)
          : '{}',
        Tags: made?.Tags,
      }),
    );
    const report = await reconcile(later);
    expect(report.errors).toEqual([]);
    expect(report.mappingsRemoved).toEqual([{ cluster: h.cluster, roleArn: role.arn }]);
    expect(await entryExists()).toBe(false);
  });
});
