import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import {
  iamNameOf,
  personalRoleArn,
  personalRoleName,
  renderUsername,
  roleBindingName,
  userLabelValue,
} from '../../src/domain/names.js';
import { mappingPlan, personalRoleFor, planGrant } from '../../src/domain/plan.js';

const { policy } = parsePolicy(`
settings: { auditChannel: C0AUDIT }
levels:
  k8s-test-role:
    rules:
      - apiGroups: ["", "batch"]
        resources: [jobs, pods, pods/log]
        verbs: [create, get, list]
    privileged: true
    defaultDuration: 1h
    maxDuration: 4h
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  prod:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:
      - { name: test, approvers: { users: [U0APPROVER, U0SECOND] }, channel: C0APPROVALS, levels: [k8s-test-role, view] }
  oidc:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: none
    usernameTemplate: "{email}"
    namespaces:
      - { name: test, approvers: { users: [U0APPROVER] }, channel: C0APPROVALS, levels: [view] }
`);
const principalArn = 'arn:aws:iam::111122223333:user/dev/alice';
const grant = (cluster: string, level: string) => ({
  id: 'ea-abcdefgh',
  cluster,
  namespace: 'test',
  level,
  requester: { slackUserId: 'U0ALICE', principalArn, kubernetesUsername: 'eks-access:alice' },
});
const expiresAt = Date.UTC(2026, 0, 1, 12);

describe('names', () => {
  it('derive everything from ids, within the limits of IAM and Kubernetes', () => {
    expect(iamNameOf(principalArn)).toBe('alice');
    expect(iamNameOf('arn:aws:sts::1:assumed-role/Admin/alice@example.com')).toBe('alice@example.com');
    expect(renderUsername('eks-access:{iamName}', { principalArn, slackUserId: 'U1' })).toBe(
      'eks-access:alice',
    );
    const name = personalRoleName('prod', principalArn);
    expect(name).toMatch(/^eksa-alice-[0-9a-f]{10}$/);
    expect(personalRoleName('prod', 'arn:aws:iam::1:user/x'.padEnd(200, 'y')).length).toBeLessThanOrEqual(64);
    expect(personalRoleName('other', principalArn)).not.toBe(name);
    expect(personalRoleArn('111122223333', '/eks-access/', 'prod', principalArn)).toBe(
      `arn:aws:iam::111122223333:role/eks-access/prod/${name}`,
    );
    expect(userLabelValue('eks-access:alice')).toMatch(/^[0-9a-f]{20}$/);
    expect(roleBindingName('ea-abcdefgh')).toBe('eks-access-ea-abcdefgh');
  });
});

describe('renderUsername', () => {
  const render = (arn: string) =>
    renderUsername('eks-access:{account}:{kind}:{iamName}', { principalArn: arn, slackUserId: 'U1' });

  it('tells apart a user and a role of one name, one name in two accounts, and two sessions of one role', () => {
    const names = [
      'arn:aws:iam::111122223333:user/dev/alice',
      'arn:aws:iam::111122223333:role/alice',
      'arn:aws:iam::444455556666:user/alice',
      'arn:aws:sts::111122223333:assumed-role/alice/s1',
      'arn:aws:sts::111122223333:assumed-role/ops/alice',
    ].map(render);
    expect(names).toEqual([
      'eks-access:111122223333:user:alice',
      'eks-access:111122223333:role:alice',
      'eks-access:444455556666:user:alice',
      'eks-access:111122223333:assumed-role:alice/s1',
      'eks-access:111122223333:assumed-role:ops/alice',
    ]);
    expect(new Set(names).size).toBe(names.length);
    // A path is not part of who a user is (IAM names are unique per account, whatever the path).
    expect(render('arn:aws:iam::111122223333:user/alice')).toBe(names[0]);
  });
});

describe('planGrant', () => {
  it('warns approvers about a privileged level, in plain words, and about nothing else', () => {
    const privileged = planGrant({ policy, grant: grant('prod', 'k8s-test-role'), expiresAt });
    expect(privileged.warnings).toEqual([
      expect.stringMatching(
        /^Privileged level k8s-test-role: whoever holds it can act beyond it \(writes pods/,
      ),
    ]);
    expect(planGrant({ policy, grant: grant('prod', 'view'), expiresAt }).warnings).toEqual([]);
  });

  it('plans the personal role, trust until expiry, aws-auth entry, kept Role, labelled RoleBinding, checks', () => {
    const plan = planGrant({ policy, grant: grant('prod', 'k8s-test-role'), expiresAt });
    expect(plan.personalRole?.trustPolicy.Statement).toEqual([
      expect.objectContaining({
        Principal: { AWS: principalArn },
        Action: ['sts:AssumeRole'],
        Condition: { DateLessThan: { 'aws:CurrentTime': '2026-01-01T12:00:00.000Z' } },
      }),
    ]);
    expect(plan.personalRole).toEqual(
      personalRoleFor(policy, { cluster: 'prod', principalArn, username: 'eks-access:alice', expiresAt }),
    );
    // aws-auth gets the path-less ARN: a session never carries the path, and the authenticator compares
    // exactly (case aside), so an entry with the path would match nobody.
    expect(plan.personalRole?.arn).toMatch(/:role\/eks-access\/prod\/eksa-alice-/);
    expect(plan.mapping).toEqual({
      mode: 'aws-auth',
      entry: {
        rolearn: `arn:aws:iam::111122223333:role/${plan.personalRole?.name}`,
        username: 'eks-access:alice',
        groups: [],
      },
    });
    // Access entries keep the full ARN: EKS stores the principal and accepts a path there.
    expect(mappingPlan('access-entries', plan.personalRole?.arn ?? '', 'u')).toMatchObject({
      entry: { principalArn: plan.personalRole?.arn },
    });
    expect(plan.role?.metadata.name).toBe('eks-access-k8s-test-role');
    expect(plan.roleBinding?.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: 'eks-access-k8s-test-role',
    });
    expect(plan.roleBinding?.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'eks-access',
      'eks-access.io/grant-id': 'ea-abcdefgh',
      'eks-access.io/user': userLabelValue('eks-access:alice'),
    });
    expect(plan.roleBinding?.metadata.annotations).toMatchObject({
      'eks-access.io/expires-at': '2026-01-01T12:00:00.000Z',
      'eks-access.io/role-arn': plan.personalRole?.arn,
    });
    expect(plan.checks).toEqual([
      { namespace: 'test', verb: 'create', group: 'batch', resource: 'jobs' },
      { namespace: 'test', verb: 'create', group: '', resource: 'pods' },
      { namespace: 'test', verb: 'create', group: '', resource: 'pods', subresource: 'log' },
    ]);
  });

  it('binds a ClusterRole without a kept Role, and maps nothing in none mode', () => {
    const plan = planGrant({ policy, grant: grant('oidc', 'view'), expiresAt });
    expect(plan.personalRole).toBeUndefined();
    expect(plan.mapping).toEqual({ mode: 'none', username: 'eks-access:alice' });
    expect(plan.role).toBeUndefined();
    expect(plan.roleBinding?.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: 'view',
    });
    expect(plan.checks).toEqual([]);
  });
});
