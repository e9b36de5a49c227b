// IAM Identity Center people, without servers: which ARNs are Identity Center sessions, the policy's
// identityCenter settings and their refusals, the personal role's trust for such a session, the DM's
// SSO commands, and the lookup's rules (duplicates refused, the policy's permission-set order, caching)
// with an in-memory identity store and a stand-in IAM client that answers ListRoles.
import type { IAMClient, Role } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import {
  IdentityCenterLookup,
  type IdentityCenterUser,
  type IdentityStoreUsers,
} from '../../src/adapters/identity/identity-center.js';
import { parsePolicy } from '../../src/config/load.js';
import { identityCenterSessionOf } from '../../src/domain/arn.js';
import { renderIamPolicies } from '../../src/domain/bot-permissions.js';
import { assertPrincipalAccepted, kubernetesUsernameFor } from '../../src/domain/decisions.js';
import { AccessError } from '../../src/domain/errors.js';
import type { Grant } from '../../src/domain/grant.js';
import { personalRoleFor, trustPolicyFor } from '../../src/domain/plan.js';
import { accessCommands } from '../../src/domain/text.js';

const ACCOUNT = '111122223333';
const ROLE = 'AWSReservedSSO_EKSAccess_0123456789abcdef';
const aliceSession = `arn:aws:sts::${ACCOUNT}:assumed-role/${ROLE}/alice@example.com`;

const policyText = (identities: string) => `
identities:
${identities}
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "${ACCOUNT}"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - { name: test, approvers: { users: [U0APPROVER] }, channel: C0APPROVAL, levels: [view] }
`;
const center = `  identityCenter:
    enabled: true
    region: eu-west-1
    identityStoreId: d-1234567890
    permissionSets: [EKSAccess, Power_User]`;
const { policy } = parsePolicy(policyText(center));

function refusal(text: string): string {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(AccessError);
    return (error as AccessError).message;
  }
  throw new Error('expected the policy to be refused');
}

describe('Identity Center sessions', () => {
  it('recognises permission-set role sessions, set names with underscores included, and nothing else', () => {
    expect(identityCenterSessionOf(aliceSession)).toEqual({
      partition: 'aws',
      account: ACCOUNT,
      roleName: ROLE,
      permissionSet: 'EKSAccess',
      userName: 'alice@example.com',
    });
    const underscored = `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Power_User_fedcba9876543210/bob`;
    expect(identityCenterSessionOf(underscored)?.permissionSet).toBe('Power_User');
    for (const other of [
      `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/${ROLE}`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_EKSAccess_notahexsuffix123/alice`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/ops/alice`,
      `arn:aws:iam::${ACCOUNT}:user/alice`,
    ]) {
      expect(identityCenterSessionOf(other)).toBeUndefined();
    }
  });

  it('accepts sessions of the policy permission sets only, without opening allowAssumedRoles', () => {
    expect(() => assertPrincipalAccepted(policy, aliceSession)).not.toThrow();
    const otherSet = `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice`;
    expect(() => assertPrincipalAccepted(policy, otherSet)).toThrow(/assumed-role session/);
    expect(() => assertPrincipalAccepted(policy, `arn:aws:sts::${ACCOUNT}:assumed-role/ops/alice`)).toThrow(
      /assumed-role session/,
    );
    const { policy: off } = parsePolicy(policyText(center.replace('enabled: true', 'enabled: false')));
    expect(() => assertPrincipalAccepted(off, aliceSession)).toThrow(/assumed-role session/);
  });

  it('gives each session its own Kubernetes user, and refuses templates that could merge two', () => {
    expect(kubernetesUsernameFor(policy, 'dev', { principalArn: aliceSession, slackUserId: 'U0ALICE' })).toBe(
      `eks-access:${ACCOUNT}:assumed-role:${ROLE}/alice@example.com`,
    );
    const merging = `${policyText(center)}settings:\n  kubernetesUsername: "eks-access:{iamName}"\n`;
    expect(refusal(merging)).toContain('with identities.identityCenter on');
  });
});

describe('identities.identityCenter settings', () => {
  it('refuses a bad store id, no permission set, a second lookup and an unusable profile, each with a hint', () => {
    expect(refusal(policyText(center.replace('d-1234567890', 'store-1')))).toContain(
      'the identity store id, like d-1234567890',
    );
    expect(refusal(policyText(center.replace('[EKSAccess, Power_User]', '[]')))).toContain(
      'name at least one permission set',
    );
    expect(refusal(policyText(`${center}\n  emailTag: { enabled: true }`))).toContain('enable one of them');
    expect(refusal(policyText(`${center}\n    cliProfile: "{role}-sso"`))).toContain(
      'is not a usable AWS CLI profile name',
    );
    expect(
      refusal(policyText(center.replace('[EKSAccess, Power_User]', '[EKSAccess, EKSAccess]'))),
    ).toContain('EKSAccess is listed twice');
  });

  it('accepts an Identity Center session in identities.map without allowAssumedRoles, but no other session', () => {
    const mapped = `${center}\n  map:\n    U0ALICE: ${aliceSession}`;
    expect(() => parsePolicy(policyText(mapped))).not.toThrow();
    const other = `${center}\n  map:\n    U0ALICE: arn:aws:sts::${ACCOUNT}:assumed-role/ops/alice`;
    expect(refusal(policyText(other))).toContain('is an assumed-role session');
  });
});

describe('what the lookup needs', () => {
  it('renders identitystore:ListUsers on the policy store and iam:ListRoles for bot and worker', () => {
    const rendered = renderIamPolicies(policy);
    for (const statements of [rendered.bot.Statement, rendered.worker.Statement]) {
      expect(statements).toContainEqual(
        expect.objectContaining({
          Action: ['identitystore:ListUsers'],
          Resource: expect.arrayContaining(['arn:aws:identitystore::*:identitystore/d-1234567890']),
        }),
      );
      expect(statements).toContainEqual(expect.objectContaining({ Action: ['iam:ListRoles'] }));
    }
  });
});

describe("the personal role's trust for an Identity Center session", () => {
  it('names exactly that session and pins its name case-sensitively through aws:userid', () => {
    const notAfter = Date.UTC(2026, 0, 1, 14);
    const [statement] = trustPolicyFor(aliceSession, notAfter).Statement;
    expect(statement).toEqual({
      Sid: 'EksAccessPersonalRole',
      Effect: 'Allow',
      Principal: { AWS: aliceSession },
      Action: ['sts:AssumeRole'],
      Condition: {
        DateLessThan: { 'aws:CurrentTime': '2026-01-01T14:00:00.000Z' },
        StringLike: { 'aws:userid': '*:alice@example.com' },
      },
    });
    // Everyone else's trust is unchanged: no aws:userid condition.
    const user = trustPolicyFor(`arn:aws:iam::${ACCOUNT}:user/alice`, notAfter).Statement[0];
    expect(user?.Condition).toEqual({ DateLessThan: { 'aws:CurrentTime': '2026-01-01T14:00:00.000Z' } });
    const plan = personalRoleFor(policy, {
      cluster: 'dev',
      principalArn: aliceSession,
      username: 'u',
      expiresAt: notAfter,
    });
    expect(plan.name).toMatch(/^eksa-alice@example\.com-[0-9a-f]{10}$/);
  });
});

describe("the DM's commands", () => {
  const grant = (principalArn: string): Grant => ({
    id: 'ea-abcd2345',
    version: 1,
    status: 'active',
    requester: { slackUserId: 'U0ALICE', principalArn, kubernetesUsername: 'u' },
    cluster: 'dev',
    namespace: 'test',
    level: 'view',
    durationSeconds: 3600,
    reason: 'INC-1',
    requiredApprovals: 1,
    approvals: [],
    createdAt: 0,
    pendingUntil: 0,
    extensions: [],
  });

  it('signs an Identity Center person in with their SSO profile and keeps it in the kubeconfig', () => {
    const commands = accessCommands(policy, grant(aliceSession));
    expect(commands).toHaveLength(3);
    expect(commands[0]).toBe(`aws sso login --profile EKSAccess-${ACCOUNT}`);
    expect(commands[1]).toMatch(
      new RegExp(
        `^aws eks update-kubeconfig --name dev --region eu-west-1 --role-arn arn:aws:iam::${ACCOUNT}:role/eks-access/dev/eksa-alice@example\\.com-[0-9a-f]{10} --alias eks-access-dev-test --profile EKSAccess-${ACCOUNT}$`,
      ),
    );
    expect(commands[2]).toBe('kubectl auth can-i get pods -n test --context eks-access-dev-test');
    const { policy: named } = parsePolicy(policyText(`${center}\n    cliProfile: "sso-{account}"`));
    expect(accessCommands(named, grant(aliceSession))[0]).toBe(`aws sso login --profile sso-${ACCOUNT}`);
  });

  it('keeps the commands of everyone else as they were', () => {
    const commands = accessCommands(policy, grant(`arn:aws:iam::${ACCOUNT}:user/bob`));
    expect(commands).toHaveLength(2);
    expect(commands.join('\n')).not.toContain('--profile');
  });
});

/** An IAM client that answers ListRoles from a list, a page of `pageSize` at a time, and counts calls. */
function listRoles(roles: Role[], pageSize = 2): IAMClient & { calls: number } {
  const client = {
    calls: 0,
    async send(command: { input: { PathPrefix?: string; Marker?: string } }) {
      client.calls += 1;
      const { PathPrefix = '/', Marker } = command.input;
      const matching = roles.filter((r) => r.Path?.startsWith(PathPrefix));
      const start = Marker ? Number(Marker) : 0;
      const end = start + pageSize;
      return {
        Roles: matching.slice(start, end),
        IsTruncated: end < matching.length,
        ...(end < matching.length ? { Marker: String(end) } : {}),
      };
    },
  };
  return client as unknown as IAMClient & { calls: number };
}

const role = (name: string, path: string, account = ACCOUNT): Role =>
  ({ RoleName: name, Path: path, Arn: `arn:aws:iam::${account}:role${path}${name}` }) as Role;

function store(users: IdentityCenterUser[]): IdentityStoreUsers & { calls: number } {
  const s = {
    calls: 0,
    async users(userName?: string) {
      s.calls += 1;
      return users.filter((u) => userName === undefined || u.userName === userName);
    },
  };
  return s;
}

const settings = policy.identities.identityCenter ?? (undefined as never);
const reserved = '/aws-reserved/sso.amazonaws.com/eu-west-1/';

describe('the Identity Center lookup', () => {
  it('finds the user by email and the first permission set of the policy provisioned in the account', async () => {
    const iam = listRoles([
      role('AWSReservedSSO_Power_User_fedcba9876543210', reserved),
      role('AWSReservedSSO_Admin_1111111111111111', reserved),
      // A look-alike name outside Identity Center's path is not Identity Center's.
      role(ROLE, '/'),
      // The same set in another account is not this account's.
      role('AWSReservedSSO_EKSAccess_2222222222222222', reserved, '444455556666'),
    ]);
    const users = store([{ userId: 'u-1', userName: 'alice', emails: ['Alice@Example.com'] }]);
    const lookup = new IdentityCenterLookup(settings, users, iam, { now: () => 0 });
    expect(await lookup.principalFor({ slackUserId: 'U0ALICE', email: 'alice@example.com' }, ACCOUNT)).toBe(
      `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_Power_User_fedcba9876543210/alice`,
    );
  });

  it('refuses an email two users carry, naming both, and a person with no user or no role, saying the fix', async () => {
    const iam = listRoles([role(ROLE, reserved)]);
    const twins = store([
      { userId: 'u-1', userName: 'alice', emails: ['alice@example.com'] },
      { userId: 'u-2', userName: 'mallory', emails: ['ALICE@example.com'] },
    ]);
    const lookup = new IdentityCenterLookup(settings, twins, iam, { now: () => 0 });
    const profile = { slackUserId: 'U0ALICE', email: 'alice@example.com' };
    await expect(lookup.principalFor(profile, ACCOUNT)).rejects.toMatchObject({
      kind: 'misconfigured',
      message: expect.stringMatching(/2 IAM Identity Center users \(alice \(u-1\), mallory \(u-2\)\)/),
      details: expect.objectContaining({ identity: 'ambiguous-email' }),
    });
    const nobody = new IdentityCenterLookup(settings, store([]), iam, { now: () => 0 });
    await expect(nobody.principalFor(profile, ACCOUNT)).rejects.toMatchObject({
      kind: 'not_found',
      hint: expect.stringContaining('set alice@example.com as your Identity Center email'),
    });
    const alice = { userId: 'u-1', userName: 'alice', emails: ['alice@example.com'] };
    const noRole = new IdentityCenterLookup(settings, store([alice]), listRoles([]), { now: () => 0 });
    await expect(noRole.principalFor(profile, ACCOUNT)).rejects.toMatchObject({
      kind: 'misconfigured',
      message: expect.stringContaining(`(EKSAccess, Power_User) is provisioned in account ${ACCOUNT}`),
    });
    await expect(lookup.principalFor({ slackUserId: 'U0ALICE' }, ACCOUNT)).rejects.toMatchObject({
      kind: 'not_found',
      message: expect.stringContaining('cannot see your Slack email'),
    });
  });

  it('with lookup userName asks the store for that user name only', async () => {
    const byName = parsePolicy(policyText(`${center}\n    lookup: userName`)).policy.identities
      .identityCenter;
    const users = store([
      { userId: 'u-1', userName: 'alice@example.com', emails: [] },
      { userId: 'u-2', userName: 'bob@example.com', emails: ['alice@example.com'] },
    ]);
    const lookup = new IdentityCenterLookup(byName ?? settings, users, listRoles([role(ROLE, reserved)]), {
      now: () => 0,
    });
    expect(await lookup.principalFor({ slackUserId: 'U0ALICE', email: 'alice@example.com' }, ACCOUNT)).toBe(
      aliceSession,
    );
  });

  it('keeps found users and roles for ten minutes, and never keeps a miss', async () => {
    let now = 0;
    const iam = listRoles([role(ROLE, reserved)]);
    const people: IdentityCenterUser[] = [];
    const users = store(people);
    const lookup = new IdentityCenterLookup(settings, users, iam, { now: () => now });
    const profile = { slackUserId: 'U0ALICE', email: 'alice@example.com' };
    await expect(lookup.principalFor(profile, ACCOUNT)).rejects.toMatchObject({ kind: 'not_found' });
    people.push({ userId: 'u-1', userName: 'alice@example.com', emails: ['alice@example.com'] });
    expect(await lookup.principalFor(profile, ACCOUNT)).toBe(aliceSession);
    const [storeCalls, iamCalls] = [users.calls, iam.calls];
    now += 9 * 60_000;
    expect(await lookup.principalFor(profile, ACCOUNT)).toBe(aliceSession);
    expect([users.calls, iam.calls]).toEqual([storeCalls, iamCalls]);
    now += 2 * 60_000;
    expect(await lookup.principalFor(profile, ACCOUNT)).toBe(aliceSession);
    expect(users.calls).toBe(storeCalls + 1);
  });
});
