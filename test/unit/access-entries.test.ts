// EksAccessEntries' answers to what EKS refuses. The adapter against a real emulator is
// test/int/engine-aws-auth.int.test.ts and the login e2e; EKS's 3 000-entry limit cannot be reached on
// ministack in a test's time, so its refusal is fed here as the SDK raises it.
import { CreateAccessEntryCommand, type EKSClient } from '@aws-sdk/client-eks';
import { describe, expect, it } from 'vitest';
import { EksAccessEntries } from '../../src/adapters/aws/access-entries.js';
import { ACCESS_ENTRY_LIMIT } from '../../src/domain/access-entry-limit.js';
import { AccessError } from '../../src/domain/errors.js';

const own = { rolePath: '/eks-access/prod/', accountId: '111122223333' };

describe('an access entry EKS will not take', () => {
  it(`is refused as misconfigured, naming the ${ACCESS_ENTRY_LIMIT}-entry limit and what to do`, async () => {
    const sent: unknown[] = [];
    const eks = {
      send: async (command: unknown) => {
        sent.push(command);
        throw Object.assign(new Error('Access entry limit reached'), {
          name: 'ResourceLimitExceededException',
        });
      },
    } as unknown as EKSClient;
    const entries = new EksAccessEntries(eks, 'prod', own as never);
    const error = await entries
      .upsert({
        roleArn: 'arn:aws:iam::111122223333:role/eks-access/prod/eksa-alice',
        username: 'u',
        groups: [],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AccessError);
    expect(error).toMatchObject({ kind: 'misconfigured' });
    expect((error as AccessError).message).toBe(
      'EKS cluster prod has 3000 access entries, the most EKS allows: no one else can be mapped',
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBeInstanceOf(CreateAccessEntryCommand);
  });
});
