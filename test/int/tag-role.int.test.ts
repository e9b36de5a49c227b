// The threat model's row "anyone with iam:TagRole (and CreateRole) on our path", tried on the real
// platform: tags never steer the reconciler. A role dressed up as ours with a far-future expiry but no sealed
// RoleBinding behind it is torn down; a live grant's role whose tags are rewritten to say "expired" is kept,
// and its person keeps the access the sealed binding gives until it ends.
import { CreateRoleCommand, GetRoleCommand, ListRoleTagsCommand, TagRoleCommand } from '@aws-sdk/client-iam';
import { afterEach, describe, expect, it } from 'vitest';
import { IAM_TAGS, MANAGED_BY, personalRoleName, personalRolePath } from '../../src/domain/names.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { uniqueName } from '../platform/context.js';
import { engineHarness, type Harness } from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Past the reconciler's grace for roles whose activation may not have written its binding yet. */
const LATER_MS = 3 * 60_000;
const FAR_FUTURE = '2099-01-01T00:00:00.000Z';

describe('someone with iam:TagRole and iam:CreateRole on our path', () => {
  it('cannot steer the reconciler: roles are judged by sealed RoleBindings, never by their tags', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const harness = h;
    const path = personalRolePath(h.runtime.policy.settings.iamPath, h.cluster);

    // A live grant; then its role's tags rewritten to say it expired long ago and belongs to nobody.
    const alice = await h.person();
    const grant = await h.waitFor((await h.approve(alice)).id, ['active']);
    const aliceRole = personalRoleName(h.cluster, alice.principalArn);
    await h.iam.send(
      new TagRoleCommand({
        RoleName: aliceRole,
        Tags: [
          { Key: IAM_TAGS.expiresAt, Value: '2000-01-01T00:00:00.000Z' },
          { Key: IAM_TAGS.principal, Value: 'arn:aws:iam::123456789012:user/nobody' },
        ],
      }),
    );

    // A role made to look like ours: our path, our tags, a far-future expiry, a trust naming the attacker.
    const dressedUp = `eksa-${uniqueName('mallory').slice(0, 40)}`;
    await h.iam.send(
      new CreateRoleCommand({
        RoleName: dressedUp,
        Path: path,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: 'arn:aws:iam::123456789012:user/mallory' },
              Action: 'sts:AssumeRole',
            },
          ],
        }),
        Tags: [
          { Key: IAM_TAGS.managedBy, Value: MANAGED_BY },
          { Key: IAM_TAGS.cluster, Value: h.cluster },
          { Key: IAM_TAGS.expiresAt, Value: FAR_FUTURE },
          { Key: IAM_TAGS.username, Value: alice.username },
        ],
      }),
    );

    expect(await harness.roleExists(dressedUp)).toBe(true);

    // The sweep, as it runs once the young-role grace has passed.
    const later = { ...h.deps, clock: { now: () => Date.now() + LATER_MS } };
    const report = await reconcile(later);
    expect(report.errors).toEqual([]);

    // The dressed-up role is gone: no sealed RoleBinding names it, whatever its tags say.
    expect(await harness.roleExists(dressedUp)).toBe(false);
    // Alice's role stays, and so does her access, while her sealed binding lives.
    expect(await harness.roleExists(aliceRole)).toBe(true);
    expect(await harness.allowed(alice.username, 'create', 'jobs', 'batch', harness.namespace)).toBe(true);
    expect((await harness.runtime.store.get(grant.id))?.status).toBe('active');
    // The trust still names her, not the principal the tag claims.
    const role = await harness.iam.send(new GetRoleCommand({ RoleName: aliceRole }));
    expect(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '')).toContain(alice.principalArn);
    const tags = await harness.iam.send(new ListRoleTagsCommand({ RoleName: aliceRole }));
    expect(tags.Tags?.find((t) => t.Key === IAM_TAGS.principal)?.Value).toBe(
      'arn:aws:iam::123456789012:user/nobody',
    );
  });
});
