// doctor's check that people may, by their own IAM policies, assume their personal roles (the half of a
// login the worker's probe cannot prove). The simulator itself is asked in test/int/assume-simulation.int.test.ts.
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { checkPeopleMayAssume } from '../../src/operator/doctor.js';

const policy = parsePolicy(`
settings: { auditChannel: C0AUDIT }
identities:
  allowAssumedRoles: true
  map:
    U0ALICE: arn:aws:iam::111122223333:user/alice
    U0BOB: arn:aws:iam::111122223333:user/bob
    U0ANA: arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Dev_0a1b2c/ana
    U0EVE: arn:aws:iam::999988887777:user/eve
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  prod:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: access-entries
    namespaces:
      - name: test
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [view]
`).policy;

describe("doctor: people's own sts:AssumeRole", () => {
  it('asks the simulator for each user of the cluster’s account, about their own personal role only', async () => {
    const asked: string[] = [];
    const result = await checkPeopleMayAssume(policy, 'prod', async (principal, roles) => {
      asked.push(`${principal} → ${roles.join(',')}`);
      return principal.includes('assumed-role') ? undefined : [];
    });
    expect(asked).toHaveLength(3); // eve is in another account: not asked
    expect(asked[0]).toMatch(
      /^arn:aws:iam::111122223333:user\/alice → arn:aws:iam::111122223333:role\/eks-access\/prod\/eksa-alice-/,
    );
    expect(result).toEqual({
      ok: true,
      detail:
        "2 of the identity map's people in account 111122223333 may assume their personal role here; 1 session(s) not checkable",
    });
  });

  it('warns, naming who may not and what to allow', async () => {
    const result = await checkPeopleMayAssume(policy, 'prod', async (principal, roles) =>
      principal.endsWith('/bob') ? roles : principal.includes('assumed-role') ? undefined : [],
    );
    expect(result).toMatchObject({ ok: true, warning: true });
    expect(result.detail).toContain('arn:aws:iam::111122223333:user/bob may not call sts:AssumeRole');
    expect(result.fix).toContain('sts:AssumeRole on arn:aws:iam::111122223333:role/eks-access/prod/*');
  });

  it('is advisory when the simulator cannot be asked', async () => {
    const result = await checkPeopleMayAssume(policy, 'prod', async () => {
      throw new Error('not authorized to perform: iam:SimulatePrincipalPolicy');
    });
    expect(result).toMatchObject({ ok: true, warning: true });
    expect(result.detail).toContain('could not ask');
  });
});
