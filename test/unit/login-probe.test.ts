// The login probe's pure rules: who the worker is in a trust policy, the statement that lets only its
// probe sessions in for a while, what an attempt proves, and the streak proveLogin needs. The probe
// against the real authenticator is test/e2e/login.test.ts.
import { describe, expect, it } from 'vitest';
import {
  PROBE_SESSION_NAME,
  PROBE_SUCCESSES,
  type ProbeAttempt,
  probeCallerOf,
  probeProblem,
  probeTrustStatement,
} from '../../src/domain/login-probe.js';
import { TRUST_POLICY_MAX_CHARS, trustPolicyFor, trustPolicyTooLong } from '../../src/domain/plan.js';
import type { EngineDeps } from '../../src/engine/deps.js';
import { proveLogin, proveRefused } from '../../src/engine/login-probe.js';
import type { LoginProbe } from '../../src/ports/cluster.js';

describe('probeCallerOf', () => {
  it('names a role session by its role, with or without a path; users and root as they are', () => {
    expect(probeCallerOf('arn:aws:sts::111122223333:assumed-role/eks-access-worker/i-0abc')).toEqual({
      account: '111122223333',
      partition: 'aws',
      principalArns: [
        'arn:aws:iam::111122223333:role/eks-access-worker',
        'arn:aws:iam::111122223333:role/*/eks-access-worker',
      ],
    });
    expect(probeCallerOf('arn:aws-cn:iam::111122223333:user/ops/worker')?.principalArns).toEqual([
      'arn:aws-cn:iam::111122223333:user/ops/worker',
    ]);
    expect(probeCallerOf('arn:aws:iam::111122223333:root')?.principalArns).toEqual([
      'arn:aws:iam::111122223333:root',
    ]);
  });

  it('refuses what no trust policy can name', () => {
    // moto's catch-all identity for keys it does not know
    expect(probeCallerOf('arn:aws:sts::123456789012:user/moto')).toBeUndefined();
    expect(probeCallerOf('arn:aws:sts::111122223333:federated-user/bob')).toBeUndefined();
    expect(probeCallerOf('not an arn')).toBeUndefined();
  });
});

describe('the probe statement', () => {
  const caller = probeCallerOf('arn:aws:sts::111122223333:assumed-role/eks-access-worker/s') as NonNullable<
    ReturnType<typeof probeCallerOf>
  >;
  const until = Date.parse('2026-12-05T10:00:00Z');

  it('lets in only the worker, only as a probe session, only until the window ends', () => {
    expect(probeTrustStatement(caller, until)).toEqual({
      Sid: 'EksAccessLoginProbe',
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::111122223333:root' },
      Action: ['sts:AssumeRole'],
      Condition: {
        DateLessThan: { 'aws:CurrentTime': '2026-12-05T10:00:00.000Z' },
        ArnLike: { 'aws:PrincipalArn': caller.principalArns },
        StringEquals: { 'sts:RoleSessionName': PROBE_SESSION_NAME },
      },
    });
  });

  it('is in the trust only when asked for, after the person’s own statement', () => {
    const person = 'arn:aws:iam::111122223333:user/alice';
    expect(trustPolicyFor(person, until).Statement.map((s) => s.Sid)).toEqual(['EksAccessPersonalRole']);
    expect(trustPolicyFor(person, until, { caller, until }).Statement.map((s) => s.Sid)).toEqual([
      'EksAccessPersonalRole',
      'EksAccessLoginProbe',
    ]);
  });
});

describe('probeProblem', () => {
  it('accepts only the person’s username with every check allowed', () => {
    expect(probeProblem({ kind: 'in', username: 'alice', refused: [] }, 'alice')).toBeUndefined();
    expect(probeProblem({ kind: 'in', username: 'bob', refused: [] }, 'alice')).toMatch(/"bob", not "alice"/);
    expect(probeProblem({ kind: 'in', username: 'alice', refused: ['list pods in test'] }, 'alice')).toMatch(
      /refuses list pods in test/,
    );
    expect(probeProblem({ kind: 'refused', at: 'cluster', reason: 'Unauthorized' }, 'alice')).toBe(
      'Unauthorized',
    );
  });
});

describe('proveLogin', () => {
  const deps = { clock: { now: () => Date.now() } } as unknown as EngineDeps;
  const scripted = (answers: ProbeAttempt[]): LoginProbe & { calls: number } => {
    const probe = {
      calls: 0,
      caller: async () => {
        throw new Error('not asked');
      },
      attempt: async () => {
        const answer = answers[Math.min(probe.calls, answers.length - 1)] as ProbeAttempt;
        probe.calls += 1;
        return answer;
      },
    };
    return probe;
  };
  const IN: ProbeAttempt = { kind: 'in', username: 'alice', refused: [] };
  const OUT: ProbeAttempt = { kind: 'refused', at: 'cluster', reason: 'Unauthorized' };
  const NO_SESSION: ProbeAttempt = { kind: 'refused', at: 'sts', reason: 'AccessDenied' };

  it(`needs ${PROBE_SUCCESSES} logins in a row: a refusal in between starts the count again`, async () => {
    const probe = scripted([OUT, IN, OUT, IN, IN, IN]);
    // The attempts' spacing is production's concern, not this rule's: none here.
    const proof = await proveLogin(deps, probe, { roleArn: 'r', username: 'alice', checks: [] }, 0);
    expect(proof.attempts).toBe(6);
    expect(probe.calls).toBe(6);
  });

  it(`proves a revocation by ${PROBE_SUCCESSES} refusals by the cluster in a row; STS refusing proves nothing`, async () => {
    const probe = scripted([IN, OUT, NO_SESSION, OUT, OUT, OUT]);
    const proof = await proveRefused(deps, probe, 'r', 0);
    expect(proof.attempts).toBe(6);
  });
});

describe('trustPolicyTooLong', () => {
  const until = Date.parse('2026-12-05T10:00:00Z');
  const caller = probeCallerOf('arn:aws:sts::111122223333:assumed-role/eks-access-worker/s') as NonNullable<
    ReturnType<typeof probeCallerOf>
  >;

  it('counts the document IAM gets, the probe statement included, against the limit', () => {
    const trust = trustPolicyFor('arn:aws:iam::111122223333:user/alice', until, { caller, until });
    const length = JSON.stringify(trust).length;
    expect(trustPolicyTooLong(trust, length)).toBeUndefined();
    expect(trustPolicyTooLong(trust, length - 1)).toBe(
      `the personal role's trust policy would be ${length} characters, over IAM's limit of ${length - 1}`,
    );
  });

  it('leaves room under IAM’s default for the longest principal IAM allows (a 512-character path)', () => {
    const path = `/${'p'.repeat(510)}/`;
    const longest = `arn:aws:iam::111122223333:user${path}${'a'.repeat(64)}`;
    const trust = trustPolicyFor(longest, until, { caller, until });
    expect(trustPolicyTooLong(trust)).toBeUndefined();
    expect(JSON.stringify(trust).length).toBeLessThan(TRUST_POLICY_MAX_CHARS);
  });
});
