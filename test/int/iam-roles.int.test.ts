// The personal role's IAM calls on moto (which, like IAM, refuses DeleteRole while a role has inline
// policies): the minimum calls for a new role, a renewal and a retirement, and the retirement of a role
// an older version left with its deny-older-sessions inline policy.
import { GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { AwsIamRoles } from '../../src/adapters/aws/iam-roles.js';
import type { PersonalRolePlan } from '../../src/domain/plan.js';
import { trustPolicyFor } from '../../src/domain/plan.js';
import { awsClientConfig, platform, uniqueName } from '../platform/context.js';
import { recordAwsRequests, type SentAwsRequest } from '../support/aws-requests.js';

const HOUR = 3_600_000;

function planFor(name: string, expiresAt: number): PersonalRolePlan {
  const { accountId } = platform().aws;
  const principalArn = `arn:aws:iam::${accountId}:user/${name}`;
  return {
    name: `eksa-${name}`,
    path: '/eks-access/iam-roles-test/',
    arn: `arn:aws:iam::${accountId}:role/eks-access/iam-roles-test/eksa-${name}`,
    trustPolicy: trustPolicyFor(principalArn, expiresAt),
    tags: { 'eks-access:expires-at': new Date(expiresAt).toISOString() },
  };
}

function recorded() {
  const iam = new IAMClient(awsClientConfig('iam'));
  const sent: SentAwsRequest[] = [];
  recordAwsRequests(iam, sent);
  const calls = () => sent.splice(0).map((s) => s.command.replace(/Command$/, ''));
  return { iam, roles: new AwsIamRoles(iam), calls };
}

const gone = (iam: IAMClient, name: string) =>
  expect(iam.send(new GetRoleCommand({ RoleName: name }))).rejects.toMatchObject({
    name: 'NoSuchEntityException',
  });

describe('personal role calls', () => {
  it('create once, renew without CreateRole, retire with two calls', async () => {
    const { iam, roles, calls } = recorded();
    const plan = planFor(uniqueName('p'), Date.now() + HOUR);
    await roles.ensureRole(plan);
    expect(calls()).toEqual(['CreateRole']);
    const renewedUntil = Date.now() + 2 * HOUR;
    await roles.ensureRole(planFor(plan.name.slice(5), renewedUntil), { exists: true });
    expect(calls()).toEqual(['UpdateAssumeRolePolicy', 'TagRole']);
    const trust = await iam.send(new GetRoleCommand({ RoleName: plan.name }));
    expect(decodeURIComponent(trust.Role?.AssumeRolePolicyDocument ?? '')).toContain(
      new Date(renewedUntil).toISOString(),
    );
    calls(); // the test's own GetRole
    await roles.retireRole(plan.name, 'arn:aws:iam::123456789012:user/x', Date.now());
    expect(calls()).toEqual(['UpdateAssumeRolePolicy', 'DeleteRole']);
    await gone(iam, plan.name);
  });

  it('renewing a role that is not there after all creates it', async () => {
    const { iam, roles, calls } = recorded();
    const plan = planFor(uniqueName('p'), Date.now() + HOUR);
    await roles.ensureRole(plan, { exists: true });
    expect(calls()).toEqual(['UpdateAssumeRolePolicy', 'CreateRole']);
    expect((await iam.send(new GetRoleCommand({ RoleName: plan.name }))).Role?.RoleName).toBe(plan.name);
    await roles.retireRole(plan.name, 'arn:aws:iam::123456789012:user/x', Date.now());
  });

  it('a role an older version left with an inline policy: DeleteConflict, then the policy goes, then the role', async () => {
    const { iam, roles, calls } = recorded();
    const plan = planFor(uniqueName('p'), Date.now() + HOUR);
    await roles.ensureRole(plan);
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: plan.name,
        PolicyName: 'eks-access-deny-older-sessions',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Deny', Action: '*', Resource: '*' }],
        }),
      }),
    );
    calls();
    await roles.retireRole(plan.name, 'arn:aws:iam::123456789012:user/x', Date.now());
    expect(calls()).toEqual([
      'UpdateAssumeRolePolicy',
      'DeleteRole',
      'ListRolePolicies',
      'DeleteRolePolicy',
      'DeleteRole',
    ]);
    await gone(iam, plan.name);
  });
});
