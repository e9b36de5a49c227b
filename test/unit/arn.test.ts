// The one ARN canonicalisation (src/domain/arn.ts) against what aws-iam-authenticator does with a
// session's ARN and an aws-auth rolearn, and the rule that tells our mapping entries from foreign ones.
import { describe, expect, it } from 'vitest';
import {
  authenticatorRoleArn,
  parseArn,
  partitionOfRegion,
  roleKey,
  roleOf,
  sameRole,
} from '../../src/domain/arn.js';
import { isOurMapping, personalRoleArn, usernamePrefixOf } from '../../src/domain/names.js';

describe('ARN canonicalisation', () => {
  it.each([
    // [any ARN of the role or a session of it, what the authenticator compares with]
    [
      'arn:aws:iam::111122223333:role/eks-access/prod/eksa-alice-1',
      'arn:aws:iam::111122223333:role/eksa-alice-1',
    ],
    ['arn:aws:iam::111122223333:role/eksa-alice-1', 'arn:aws:iam::111122223333:role/eksa-alice-1'],
    [
      'arn:aws:sts::111122223333:assumed-role/eksa-alice-1/alice',
      'arn:aws:iam::111122223333:role/eksa-alice-1',
    ],
    [
      'arn:aws:sts::111122223333:assumed-role/eksa-alice-1/a@b.c',
      'arn:aws:iam::111122223333:role/eksa-alice-1',
    ],
    ['arn:aws-cn:iam::111122223333:role/a/b/c/R', 'arn:aws-cn:iam::111122223333:role/R'],
    ['arn:aws-us-gov:sts::111122223333:assumed-role/R/s', 'arn:aws-us-gov:iam::111122223333:role/R'],
  ])('%s → %s', (arn, canonical) => {
    expect(authenticatorRoleArn(arn)).toBe(canonical);
  });

  it('names no role for users, root, federated users, malformed ARNs and unknown partitions', () => {
    for (const arn of [
      'arn:aws:iam::1:user/alice',
      'arn:aws:iam::1:root',
      'arn:aws:sts::1:federated-user/bob',
      'arn:aws:sts::1:assumed-role/only-role',
      'arn:aws:iam::1:role/',
      'arn:aws:iam::1',
      'not-an-arn',
      'arn:AWS:iam::1:role/R',
      'arn:aws-moon:iam::1:role/R',
    ]) {
      expect(roleOf(arn), arn).toBeUndefined();
      expect(sameRole(arn, arn), arn).toBe(false);
    }
  });

  it('compares roles whatever their path and case, like IAM names and the authenticator (EqualFold)', () => {
    expect(sameRole('arn:aws:iam::1:role/p/q/EKSA-Alice', 'arn:aws:sts::1:assumed-role/eksa-alice/x')).toBe(
      true,
    );
    expect(sameRole('arn:aws:iam::1:role/eksa-alice', 'arn:aws:iam::2:role/eksa-alice')).toBe(false);
    expect(sameRole('arn:aws:iam::1:role/eksa-alice', 'arn:aws-cn:iam::1:role/eksa-alice')).toBe(false);
    expect(roleKey('arn:aws:iam::1:role/X/Y')).toBe('arn:aws:iam::1:role/y');
  });

  it('parses the parts and keeps colons inside the resource', () => {
    expect(parseArn('arn:aws:sts::1:assumed-role/r/s:t')).toEqual({
      partition: 'aws',
      service: 'sts',
      region: '',
      account: '1',
      resource: 'assumed-role/r/s:t',
    });
    expect(roleOf('arn:aws:iam::1:role/a/b/R')).toEqual({
      partition: 'aws',
      account: '1',
      path: '/a/b/',
      name: 'R',
    });
  });

  it('derives the partition from the region, and personal role ARNs carry it', () => {
    expect(partitionOfRegion('eu-west-1')).toBe('aws');
    expect(partitionOfRegion('cn-north-1')).toBe('aws-cn');
    expect(partitionOfRegion('us-gov-west-1')).toBe('aws-us-gov');
    expect(
      personalRoleArn('111122223333', '/eks-access/', 'c', 'arn:aws-cn:iam::1:user/a', 'aws-cn'),
    ).toMatch(/^arn:aws-cn:iam::111122223333:role\/eks-access\/c\/eksa-a-/);
  });
});

describe('recognising our mapping entries', () => {
  const own = { accountId: '111122223333', rolePath: '/eks-access/prod/', usernamePrefix: 'eks-access:' };
  const entry = (roleArn: string, username = 'eks-access:alice') => ({ roleArn, username });

  it('takes the path-less entry, and one written with our path before the fix', () => {
    expect(isOurMapping(own, entry('arn:aws:iam::111122223333:role/eksa-alice-1'))).toBe(true);
    expect(isOurMapping(own, entry('arn:aws:iam::111122223333:role/eks-access/prod/eksa-alice-1'))).toBe(
      true,
    );
  });

  it('needs the role prefix, the username prefix, the account and our path (or none): both prefixes required', () => {
    for (const e of [
      entry('arn:aws:iam::111122223333:role/alice'),
      entry('arn:aws:iam::111122223333:role/eksa-alice-1', 'alice'),
      entry('arn:aws:iam::111122223333:role/eksa-alice-1', 'system:node:{{EC2PrivateDNSName}}'),
      entry('arn:aws:iam::444455556666:role/eksa-alice-1'),
      entry('arn:aws:iam::111122223333:role/eks-access/other/eksa-alice-1'),
      entry('arn:aws:iam::111122223333:user/eksa-alice'),
      entry('arn:aws:sts::111122223333:assumed-role/eksa-alice-1/s'),
    ]) {
      expect(isOurMapping(own, e), JSON.stringify(e)).toBe(false);
    }
    expect(isOurMapping({ ...own, usernamePrefix: '' }, entry('arn:aws:iam::111122223333:role/eksa-a'))).toBe(
      false,
    );
  });

  it('reads the username prefix from the template: the text before the first placeholder', () => {
    expect(usernamePrefixOf('eks-access:{iamName}')).toBe('eks-access:');
    expect(usernamePrefixOf('jit:{slackUserId}:{iamName}')).toBe('jit:');
    expect(usernamePrefixOf('{iamName}')).toBe('');
    expect(usernamePrefixOf('fixed')).toBe('fixed');
  });
});
