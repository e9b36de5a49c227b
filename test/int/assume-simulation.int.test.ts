// doctor's check of the half of a login the worker's probe cannot prove: may each person, by their own IAM
// policies, call sts:AssumeRole on their personal role? Asked of IAM's policy simulator on the strict
// emulator, which evaluates identity policies (moto has no simulator).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rolesDeniedToAssume } from '../../src/adapters/aws/assume-simulation.js';
import { uniqueName } from '../platform/context.js';
import { type StrictAws, startStrictAws } from '../platform/strict-aws.js';

let aws: StrictAws;
beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-simulate'));
}, 120_000);
afterAll(async () => {
  await aws?.stop();
});

describe('may a person assume their personal role, by their own policies', () => {
  it('names the roles a person without sts:AssumeRole on them cannot assume, and none for one with it', async () => {
    const ours = `arn:aws:iam::${aws.accountId}:role/eks-access/prod/eksa-someone-0123456789`;
    const elsewhere = `arn:aws:iam::${aws.accountId}:role/other/some-role`;
    const allowed = await aws.createUser('may-assume', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRole',
          Resource: `arn:aws:iam::${aws.accountId}:role/eks-access/*`,
        },
      ],
    });
    const without = await aws.createUser('may-not', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'eks:DescribeCluster', Resource: '*' }],
    });
    const iam = aws.iamAs(aws.rootOf(aws.accountId));
    try {
      expect(await rolesDeniedToAssume(iam, allowed.arn, [ours])).toEqual([]);
      expect(await rolesDeniedToAssume(iam, allowed.arn, [ours, elsewhere])).toEqual([elsewhere]);
      expect(await rolesDeniedToAssume(iam, without.arn, [ours])).toEqual([ours]);
      // A session cannot be simulated: not judged, rather than judged wrongly.
      expect(
        await rolesDeniedToAssume(
          iam,
          `arn:aws:sts::${aws.accountId}:assumed-role/AWSReservedSSO_Dev_0a1b/ana`,
          [ours],
        ),
      ).toBeUndefined();
    } finally {
      iam.destroy();
    }
  });
});
