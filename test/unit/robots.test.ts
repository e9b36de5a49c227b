// A role with no person behind it (a CI job asking through the API): its own requester, granted only by
// an auto-approve rule that names it, and the API's caller mapped to a person or to such a role.
import { describe, expect, it } from 'vitest';
import { PolicyIdentityResolver } from '../../src/adapters/identity/aws-identity.js';
import { personOfCaller } from '../../src/bot/api-caller.js';
import { apiRulesOf } from '../../src/config/api.js';
import { parsePolicy } from '../../src/config/load.js';
import type { VerifiedCaller } from '../../src/domain/caller-token.js';
import { autoApproveRuleFor, namespacePolicyOf } from '../../src/domain/decisions.js';
import { AccessError } from '../../src/domain/errors.js';
import { isRobotRequester, robotPrincipal, robotRequesterId } from '../../src/domain/robots.js';
import type { Directory } from '../../src/ports/directory.js';

const CI = 'arn:aws:iam::111122223333:role/ci-deployer';
const { policy } = parsePolicy(`
identities:
  map:
    U0ALICE: arn:aws:iam::111122223333:user/alice
    U0TEAM: arn:aws:iam::111122223333:role/team-admin
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  logs: { rules: [{ apiGroups: [""], resources: [pods/log], verbs: [get] }], defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0ANA] }
        channel: C0APPROVAL
        levels: [view, logs]
        autoApprove:
          - { levels: [logs], maxDuration: 1h }
          - { levels: [view], maxDuration: 30m, requesters: { roles: [${CI}] } }
api: { enabled: true }
`);
const ns = namespacePolicyOf(policy, { cluster: 'dev', namespace: 'test' });
if (!ns) throw new Error('no namespace');
const robot = robotRequesterId('arn:aws:sts::111122223333:assumed-role/ci-deployer/build-42');

describe('a CI role as its own requester', () => {
  it('is named by the role, not the session, and is no Slack user', () => {
    expect(robot).toBe(`iam-role:${CI}`);
    expect(isRobotRequester(robot)).toBe(true);
    expect(isRobotRequester('U0ALICE')).toBe(false);
    expect(robotPrincipal(policy, robot)).toBe(CI);
    expect(robotPrincipal(policy, 'iam-role:arn:aws:iam::111122223333:role/other')).toBeUndefined();
  });

  it('is covered only by an auto-approve rule that names it, never by an open one', () => {
    const ask = (level: string, minutes: number) =>
      autoApproveRuleFor(ns, {
        level,
        durationSeconds: minutes * 60,
        slackUserId: robot,
        memberOfGroups: [],
      });
    expect(ask('view', 30)?.index).toBe(1);
    expect(ask('view', 31)).toBeUndefined();
    expect(ask('logs', 10)).toBeUndefined(); // the open rule covers people only
    expect(
      autoApproveRuleFor(ns, {
        level: 'logs',
        durationSeconds: 600,
        slackUserId: 'U0ALICE',
        memberOfGroups: [],
      })?.index,
    ).toBe(0);
  });

  it('is found by the identity resolver through the policy alone', async () => {
    expect(await new PolicyIdentityResolver(policy).principalFor({ slackUserId: robot })).toBe(CI);
  });
});

describe('an API caller as a person', () => {
  const directory = { profile: async (slackUserId: string) => ({ slackUserId }) } as unknown as Directory;
  const deps = { policy, directory, identity: new PolicyIdentityResolver(policy) };
  const caller = (arn: string, principalArn: string, kind: VerifiedCaller['kind']): VerifiedCaller => ({
    arn,
    account: '111122223333',
    kind,
    principalArn,
    uniqueId: 'AIDAEXAMPLE',
  });

  it('is the Slack user the map links to the IAM user or the role STS named', async () => {
    const alice = 'arn:aws:iam::111122223333:user/alice';
    expect(await personOfCaller(deps, caller(alice, alice, 'user'))).toBe('U0ALICE');
    const team = caller(
      'arn:aws:sts::111122223333:assumed-role/team-admin/s',
      'arn:aws:iam::111122223333:role/team-admin',
      'assumed-role',
    );
    expect(await personOfCaller(deps, team)).toBe('U0TEAM');
  });

  it('is the role itself for a CI role a rule names, and nobody otherwise', async () => {
    expect(
      await personOfCaller(
        deps,
        caller('arn:aws:sts::111122223333:assumed-role/ci-deployer/b', CI, 'assumed-role'),
      ),
    ).toBe(robot);
    const stranger = caller(
      'arn:aws:sts::111122223333:assumed-role/other/b',
      'arn:aws:iam::111122223333:role/other',
      'assumed-role',
    );
    await expect(personOfCaller(deps, stranger)).rejects.toBeInstanceOf(AccessError);
    const bob = 'arn:aws:iam::111122223333:user/bob';
    await expect(personOfCaller(deps, caller(bob, bob, 'user'))).rejects.toMatchObject({ kind: 'not_found' });
  });
});

describe('the api section', () => {
  it('defaults to the clusters’ accounts and the STS hosts of their regions, audience the installation', () => {
    expect(apiRulesOf(policy)).toEqual({
      accounts: ['111122223333'],
      stsHosts: ['sts.amazonaws.com', 'sts.eu-west-1.amazonaws.com'],
      audience: 'eks-access',
    });
  });

  it('accepts only AWS STS host names as stsHosts', () => {
    expect(() =>
      parsePolicy(`
levels: { view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h } }
clusters: {}
api: { enabled: true, stsHosts: [evil.example.com] }
`),
    ).toThrow(/STS endpoint host/);
  });
});
