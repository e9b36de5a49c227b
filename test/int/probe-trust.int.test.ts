// The login probe's trust statement, tried on the strict emulator that enforces trust policies (moto does
// not): while the worker verifies, the personal role lets in the person and the worker's probe session,
// nobody else — not the worker under another session name, not an account administrator under the probe's
// name — and once the statement is written out again, or its time is up, not the worker either.
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import { AwsIamRoles } from '../../src/adapters/aws/iam-roles.js';
import { PROBE_SESSION_NAME, PROBE_TRUST_MS, probeCallerOf } from '../../src/domain/login-probe.js';
import { personalRoleFor } from '../../src/domain/plan.js';
import { uniqueName } from '../platform/context.js';
import { type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { strictPolicy } from '../support/strict-eks.js';

let aws: StrictAws;
beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-probe'));
});
afterAll(async () => {
  await aws?.stop();
});

/** 'ok', or the error STS answered with. */
async function assume(who: AwsCredentials, roleArn: string, sessionName: string): Promise<string> {
  const sts = new STSClient({ region: aws.region, endpoint: aws.endpoint, credentials: who });
  try {
    await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName }));
    return 'ok';
  } catch (error) {
    return (error as { name?: string }).name ?? String(error);
  } finally {
    sts.destroy();
  }
}

const mayAssume = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '*' }],
};

describe("the login probe's statement in a personal role's trust", () => {
  it('lets in only the worker, only as the probe session, only while it verifies', async () => {
    const roles = new AwsIamRoles(aws.iamAs(aws.rootOf(aws.accountId)));
    const worker = await aws.createUser('worker', mayAssume);
    const alice = await aws.createUser('alice', mayAssume);
    const mallory = await aws.createUser('mallory', 'arn:aws:iam::aws:policy/AdministratorAccess');
    const caller = probeCallerOf(worker.arn);
    if (!caller) throw new Error(`${worker.arn} did not parse`);
    const cluster = uniqueName('probe');
    const policy = strictPolicy(aws, cluster);
    const person = {
      cluster,
      principalArn: alice.arn,
      username: 'eks-access:alice',
      expiresAt: Date.now() + 3_600_000,
    };

    // Activation's first trust write: the person's statement and the probe's.
    const probing = personalRoleFor(policy, person, { caller, until: Date.now() + PROBE_TRUST_MS });
    await roles.ensureRole(probing);
    expect(await assume(worker.credentials, probing.arn, PROBE_SESSION_NAME)).toBe('ok');
    expect(await assume(alice.credentials, probing.arn, 'alice')).toBe('ok');
    expect(await assume(worker.credentials, probing.arn, 'alice')).toBe('AccessDenied');
    expect(await assume(mallory.credentials, probing.arn, PROBE_SESSION_NAME)).toBe('AccessDenied');

    // The probe passed: the trust is written again without its statement.
    await roles.ensureRole(personalRoleFor(policy, person), { exists: true, trustOnly: true });
    expect(await assume(worker.credentials, probing.arn, PROBE_SESSION_NAME)).toBe('AccessDenied');
    expect(await assume(alice.credentials, probing.arn, 'alice')).toBe('ok');

    // A worker killed mid-probe never writes it out: the statement's own time ends it.
    await roles.ensureRole(personalRoleFor(policy, person, { caller, until: Date.now() - 1_000 }), {
      exists: true,
      trustOnly: true,
    });
    expect(await assume(worker.credentials, probing.arn, PROBE_SESSION_NAME)).toBe('AccessDenied');
    expect(await assume(alice.credentials, probing.arn, 'alice')).toBe('ok');
  });
});
