// The test platform's IAM stand-in (test/platform/iam-propagation.ts) must be at least as strict as IAM for
// the trust policies eks-access writes: these are the policies trustPolicyFor makes, judged as IAM would.
import { describe, expect, it } from 'vitest';
import { trustPolicyFor } from '../../src/domain/plan.js';
import { iamPropagation, trustPermits } from '../platform/iam-propagation.js';

const NOW = Date.parse('2026-12-05T10:00:00Z');
const alice = { arn: 'arn:aws:iam::123456789012:user/alice', userId: 'AIDAALICE', account: '123456789012' };
const worker = {
  arn: 'arn:aws:iam::123456789012:user/eks-access-worker',
  userId: 'AIDAWORKER',
  account: '123456789012',
};
const probe = {
  caller: { partition: 'aws', account: '123456789012', principalArns: [worker.arn] },
  until: NOW + 180_000,
};

describe('trust policies as IAM judges them', () => {
  const trust = JSON.stringify(trustPolicyFor(alice.arn, NOW + 3_600_000, probe));

  it('lets the person in before the grant ends, and not after', () => {
    expect(trustPermits(trust, { caller: alice, sessionName: 'alice', now: NOW })).toBe(true);
    expect(trustPermits(trust, { caller: alice, sessionName: 'alice', now: NOW + 3_600_001 })).toBe(false);
  });

  it('lets the worker in only under the probe session name and within its window', () => {
    expect(trustPermits(trust, { caller: worker, sessionName: 'eks-access-probe', now: NOW })).toBe(true);
    expect(trustPermits(trust, { caller: worker, sessionName: 'alice', now: NOW })).toBe(false);
    expect(trustPermits(trust, { caller: worker, sessionName: 'eks-access-probe', now: NOW + 180_001 })).toBe(
      false,
    );
    const withoutProbe = JSON.stringify(trustPolicyFor(alice.arn, NOW + 3_600_000));
    expect(trustPermits(withoutProbe, { caller: worker, sessionName: 'eks-access-probe', now: NOW })).toBe(
      false,
    );
  });

  it('refuses anyone else, a policy it cannot read, and a condition it does not know', () => {
    const bob = { ...alice, arn: 'arn:aws:iam::123456789012:user/bob', userId: 'AIDABOB' };
    expect(trustPermits(trust, { caller: bob, sessionName: 'bob', now: NOW })).toBe(false);
    expect(trustPermits('not json', { caller: alice, sessionName: 'alice', now: NOW })).toBe(false);
    const unknown = JSON.stringify({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: alice.arn },
          Action: 'sts:AssumeRole',
          Condition: { Bool: { 'aws:MultiFactorAuthPresent': 'true' } },
        },
      ],
    });
    expect(trustPermits(unknown, { caller: alice, sessionName: 'alice', now: NOW })).toBe(false);
  });

  it('lets a role name every session of it, its path aside', () => {
    const session = {
      arn: 'arn:aws:sts::123456789012:assumed-role/ci-deployer/build-42',
      userId: 'AROACI:build-42',
      account: '123456789012',
    };
    const byRole = JSON.stringify(
      trustPolicyFor('arn:aws:iam::123456789012:role/ci/ci-deployer', NOW + 60_000),
    );
    expect(trustPermits(byRole, { caller: session, sessionName: 'x', now: NOW })).toBe(true);
    const other = JSON.stringify(
      trustPolicyFor('arn:aws:iam::123456789012:role/ci/ci-deployer-2', NOW + 60_000),
    );
    expect(trustPermits(other, { caller: session, sessionName: 'x', now: NOW })).toBe(false);
  });

  it('lets a matching Deny win', () => {
    const denied = JSON.stringify({
      Statement: [
        { Effect: 'Allow', Principal: { AWS: alice.arn }, Action: 'sts:AssumeRole' },
        { Effect: 'Deny', Principal: { AWS: '*' }, Action: 'sts:AssumeRole' },
      ],
    });
    expect(trustPermits(denied, { caller: alice, sessionName: 'alice', now: NOW })).toBe(false);
  });
});

describe('IAM changes reach AssumeRole late', () => {
  const propagation = { seed: 7, minMs: 1_000, maxMs: 4_000 };

  it('shows a new role only after its delay, old or new at random in the last quarter, then always new', () => {
    const iam = iamPropagation(propagation);
    const seen: (string | undefined)[] = [];
    for (let t = 0; t <= 4_000; t += 50) seen.push(iam.visible('role', 'trust', NOW + t, NOW));
    expect(seen[0]).toBeUndefined();
    expect(seen.at(-1)).toBe('trust');
    const firstNew = seen.indexOf('trust');
    expect(firstNew).toBeGreaterThanOrEqual(Math.floor((1_000 * 0.75) / 50));
    expect(seen.slice(seen.lastIndexOf(undefined) + 1).every((s) => s === 'trust')).toBe(true);
  });

  it('settles a role made long ago at once, and delays a trust rewrite from when it is seen', () => {
    const iam = iamPropagation(propagation);
    expect(iam.visible('role', 'v1', NOW, NOW - 60_000)).toBe('v1');
    expect(iam.visible('role', 'v2', NOW + 1, NOW - 60_000)).toBe('v1');
    expect(iam.visible('role', 'v2', NOW + 4_001)).toBe('v2');
  });

  it('replays the same delays from the same seed, and applies at once without propagation', () => {
    const run = () => {
      const iam = iamPropagation(propagation);
      return Array.from({ length: 80 }, (_, i) => iam.visible('role', 'trust', NOW + i * 50, NOW));
    };
    expect(run()).toEqual(run());
    expect(iamPropagation(undefined).visible('role', 'trust', NOW, NOW)).toBe('trust');
  });
});
