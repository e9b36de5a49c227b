// What activation asks the live cluster before its first write: a Kubernetes username that another
// principal already holds is refused (a user and a role of one name under a template that names only
// {iamName}), and so is a level whose ClusterRole turns out privileged on the cluster. Both fail the
// grant with the reason and leave nothing behind; the first holder keeps their access.
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { personalRoleArn, personalRoleName, roleBindingName } from '../../src/domain/names.js';
import { adminKubeConfig, platform, uniqueName } from '../platform/context.js';
import { engineHarness, type Harness, readAwsAuth } from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const rbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);

describe('activation refuses what the cluster shows to be unsafe', () => {
  it('a username another principal holds on the cluster: refused, nothing created, the holder unharmed', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const alice = await h.person();
    const first = await h.waitFor((await h.approve(alice, { level: 'view' })).id, ['active', 'failed']);
    expect(first.status).toBe('active');

    // An IAM role with Alice's name renders the same username under this harness's {iamName} template.
    const name = alice.principalArn.split('/').pop() as string;
    await h.iam.send(
      new CreateRoleCommand({
        RoleName: name,
        AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }),
      }),
    );
    const robot = {
      principalArn: `arn:aws:iam::${platform().aws.accountId}:role/${name}`,
      slackUserId: 'U0ROBOT',
    };
    const second = await h.waitFor((await h.approve(robot, { level: 'view' })).id, ['active', 'failed']);
    expect(second.status).toBe('failed');
    expect(second.failure?.reason).toContain(
      `Kubernetes user "${alice.username}" on ${h.cluster} already belongs to another AWS principal (${alice.principalArn}`,
    );
    // Nothing of the second grant exists; Alice's access is as it was.
    await expect(
      rbac().readNamespacedRoleBinding({ name: roleBindingName(second.id), namespace: h.namespace }),
    ).rejects.toMatchObject({ code: 404 });
    expect(await h.roleExists(personalRoleName(h.cluster, robot.principalArn))).toBe(false);
    const robotRole = personalRoleArn(
      platform().aws.accountId,
      '/eks-access/',
      h.cluster,
      robot.principalArn,
    );
    expect((await readAwsAuth(h))['mapRoles']).not.toContain(robotRole);
    expect(await h.allowed(alice.username, 'list', 'pods', '', h.namespace)).toBe(true);
    expect((await h.runtime.store.get(first.id))?.status).toBe('active');
  });

  it('a level whose live ClusterRole is privileged, though the policy does not say so: refused with the reason', async () => {
    const clusterRole = uniqueName('reader');
    await rbac().createClusterRole({
      body: {
        metadata: { name: clusterRole },
        rules: [{ apiGroups: [''], resources: ['pods', 'secrets'], verbs: ['get', 'list'] }],
      },
    });
    try {
      h = await engineHarness('none', { customClusterRole: clusterRole });
      await h.startWorker();
      const alice = await h.person();
      const grant = await h.waitFor((await h.approve(alice, { level: 'custom' })).id, ['active', 'failed']);
      expect(grant.status).toBe('failed');
      expect(grant.failure?.reason).toContain(
        `Level custom binds ClusterRole ${clusterRole}, which on ${h.cluster} is privileged: reads secrets`,
      );
      expect(grant.failure?.reason).toContain('mark levels.custom privileged: true');
      await expect(
        rbac().readNamespacedRoleBinding({ name: roleBindingName(grant.id), namespace: h.namespace }),
      ).rejects.toMatchObject({ code: 404 });
      expect(await h.allowed(alice.username, 'get', 'secrets', '', h.namespace)).toBe(false);
    } finally {
      await rbac().deleteClusterRole({ name: clusterRole });
    }
  });
});
