// The personal role of an IAM Identity Center person, enforced by the strict emulator (ministack with
// AUTH=true, test/platform/strict-aws.ts, which verifies signatures and evaluates trust policies, their
// Principal and their conditions, aws:userid included): the engine's own IAM adapter creates the role
// the plan describes; the person's Identity Center session assumes it; a colleague's session of the same
// permission-set role does not, nor does a session whose name differs from hers only in case.
//
// The stand-in for Identity Center: the AWSReservedSSO_… role under /aws-reserved/sso.amazonaws.com/
// trusts, instead of Identity Center's SAML provider, one IAM user per person with sts:RoleSessionName
// pinned to that person's Identity Center user name, which is what SAML sign-in guarantees on AWS
// (Identity Center sets the session name; nobody can call sts:AssumeRole on that role). The test checks
// that premise of the stand-in too: the colleague cannot get a session named after her.
import { randomBytes } from 'node:crypto';
import { CreateRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import { AwsIamRoles } from '../../src/adapters/aws/iam-roles.js';
import { personalRoleFor } from '../../src/domain/plan.js';
import { uniqueName } from '../platform/context.js';
import { type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { strictPolicy } from '../support/strict-eks.js';

let aws: StrictAws;
beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-idc'));
});
afterAll(async () => {
  await aws?.stop();
});

type Assumed =
  | { ok: true; arn: string; credentials: AwsCredentials }
  | { ok: false; error: string; status: number | undefined };

async function assume(who: AwsCredentials, roleArn: string, sessionName: string): Promise<Assumed> {
  const sts = new STSClient({ region: aws.region, endpoint: aws.endpoint, credentials: who });
  try {
    const out = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName }));
    const c = out.Credentials;
    return {
      ok: true,
      arn: out.AssumedRoleUser?.Arn ?? '',
      credentials: {
        accessKeyId: c?.AccessKeyId ?? '',
        secretAccessKey: c?.SecretAccessKey ?? '',
        sessionToken: c?.SessionToken ?? '',
      },
    };
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    return { ok: false, error: e.name ?? String(error), status: e.$metadata?.httpStatusCode };
  } finally {
    sts.destroy();
  }
}

const denied = { ok: false, error: 'AccessDenied', status: 403 };
const sessionOf = (result: Assumed) => {
  if (!result.ok) throw new Error(`expected a session, got ${result.error}`);
  return result;
};

describe("an Identity Center person's personal role on a strict emulator", () => {
  it('is assumed by her session of the permission-set role and by no colleague in the same set', async () => {
    const root = aws.iamAs(aws.rootOf(aws.accountId));
    const mayAssume = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }],
    };
    // Their Identity Center user names (one differs from Alice's only in case), and IAM users standing in
    // for their browser sign-in.
    const alice = {
      idc: `alice.${randomBytes(2).toString('hex')}@example.com`,
      user: await aws.createUser('alice', mayAssume),
    };
    const bob = { idc: `bob@example.com`, user: await aws.createUser('bob', mayAssume) };
    const carol = { idc: alice.idc.toUpperCase(), user: await aws.createUser('carol', mayAssume) };

    // The permission-set role as Identity Center provisions it, its trust the stand-in for SAML.
    const ssoRoleName = `AWSReservedSSO_EKSAccess_${randomBytes(8).toString('hex')}`;
    const ssoRole = await root.send(
      new CreateRoleCommand({
        RoleName: ssoRoleName,
        Path: `/aws-reserved/sso.amazonaws.com/${aws.region}/`,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [alice, bob, carol].map((p) => ({
            Effect: 'Allow',
            Principal: { AWS: p.user.arn },
            Action: 'sts:AssumeRole',
            Condition: { StringEquals: { 'sts:RoleSessionName': p.idc } },
          })),
        }),
      }),
    );
    // The permission set lets its holders call sts:AssumeRole (as people need for `--role-arn`).
    await root.send(
      new PutRolePolicyCommand({
        RoleName: ssoRoleName,
        PolicyName: 'assume',
        PolicyDocument: JSON.stringify(mayAssume),
      }),
    );
    const ssoArn = ssoRole.Role?.Arn ?? '';
    const aliceSession = sessionOf(await assume(alice.user.credentials, ssoArn, alice.idc));
    const bobSession = sessionOf(await assume(bob.user.credentials, ssoArn, bob.idc));
    const carolSession = sessionOf(await assume(carol.user.credentials, ssoArn, carol.idc));
    expect(aliceSession.arn).toBe(`arn:aws:sts::${aws.accountId}:assumed-role/${ssoRoleName}/${alice.idc}`);
    // The stand-in's premise: a colleague cannot choose her session name.
    expect(await assume(bob.user.credentials, ssoArn, alice.idc)).toEqual(denied);

    // Alice's personal role, as a grant plans and the engine's adapter writes it.
    const cluster = uniqueName('idc');
    const plan = personalRoleFor(strictPolicy(aws, cluster), {
      cluster,
      principalArn: aliceSession.arn,
      username: `eks-access:${aws.accountId}:assumed-role:${ssoRoleName}/${alice.idc}`,
      expiresAt: Date.now() + 3_600_000,
    });
    await new AwsIamRoles(root).ensureRole(plan);

    const mine = await assume(aliceSession.credentials, plan.arn, alice.idc);
    expect(mine).toMatchObject({
      ok: true,
      arn: `arn:aws:sts::${aws.accountId}:assumed-role/${plan.name}/${alice.idc}`,
    });
    // Bob is in the same permission set and names his session as he likes: refused.
    expect(await assume(bobSession.credentials, plan.arn, alice.idc)).toEqual(denied);
    // Carol's session ARN equals Alice's but for case, which Principal matching ignores; aws:userid
    // (compared case-sensitively) refuses her.
    expect(await assume(carolSession.credentials, plan.arn, alice.idc)).toEqual(denied);
    // The permission-set role itself (any session of it) is not trusted either.
    expect(await assume(aws.rootOf(aws.accountId), plan.arn, alice.idc)).toEqual(denied);
  });
});
