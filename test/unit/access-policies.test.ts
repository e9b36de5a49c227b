// Access-policy levels (issue #23): the policy validator, the sealed grant tags on an access entry, and
// the test platform's stand-in for EKS's access-policy authorizer (its decisions are pure).
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { privilegeReasons } from '../../src/config/policy.js';
import { accessPolicyArn, accessPolicyNameOf } from '../../src/domain/access-policies.js';
import {
  grantTag,
  namespacesToKeep,
  type PolicyGrantFacts,
  PRINCIPAL_TAG,
  readGrantTags,
} from '../../src/domain/access-policy-tags.js';
import { AccessError } from '../../src/domain/errors.js';
import { planGrant } from '../../src/domain/plan.js';
import type { PolicyEntry } from '../../src/ports/cluster.js';
import { decide, type EntryPolicies, principalIdOf } from '../platform/access-policy-authorizer.js';
import { testSealKeys } from '../support/seal.js';

const policyText = (opts: { mapping?: string; levels?: string; edit?: string } = {}) => `
settings: { auditChannel: C0AUDIT }
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  edit: ${opts.edit ?? '{ accessPolicy: AmazonEKSEditPolicy, privileged: true, approvals: 1, defaultDuration: 1h, maxDuration: 4h }'}
clusters:
  api:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: ${opts.mapping ?? 'access-entries'}
    namespaces:
      - name: test
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: ${opts.levels ?? '[edit]'}
`;

/** alice's grant of `edit` in `test` on `api`, planned from policyText(). */
const editPlan = () =>
  planGrant({
    policy: parsePolicy(policyText()).policy,
    grant: {
      id: 'ea-abcdefgh',
      cluster: 'api',
      namespace: 'test',
      level: 'edit',
      requester: {
        slackUserId: 'U0ALICE',
        principalArn: 'arn:aws:iam::111122223333:user/alice',
        kubernetesUsername: 'eks-access:alice',
      },
    },
    expiresAt: Date.parse('2026-01-01T12:00:00Z'),
    resolvedMapping: 'access-entries',
  });

function problemsOf(text: string): string {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(AccessError);
    return (error as AccessError).message;
  }
  throw new Error('expected the policy to be refused');
}

describe('accessPolicy levels in the policy', () => {
  it('accepts a managed policy on an access-entries cluster, privileged by its AWS-published rules', () => {
    const { policy } = parsePolicy(policyText());
    expect(policy.levels['edit']?.accessPolicy).toBe('AmazonEKSEditPolicy');
    expect(privilegeReasons(policy.levels['edit'] ?? {})).toEqual(
      expect.arrayContaining([
        'reads secrets',
        'writes pods (runs code as any service account in the namespace)',
      ]),
    );
  });

  it('refuses an unknown policy, a level that mixes it with rules or a ClusterRole, and an unprivileged edit', () => {
    expect(
      problemsOf(
        policyText({ edit: '{ accessPolicy: AmazonEKSEverything, defaultDuration: 1h, maxDuration: 4h }' }),
      ),
    ).toMatch(/an EKS managed access policy: AmazonEKSViewPolicy/);
    expect(
      problemsOf(
        policyText({
          edit: '{ accessPolicy: AmazonEKSViewPolicy, clusterRole: view, defaultDuration: 1h, maxDuration: 4h }',
        }),
      ),
    ).toMatch(/exactly one of clusterRole .* or accessPolicy/);
    expect(
      problemsOf(
        policyText({ edit: '{ accessPolicy: AmazonEKSEditPolicy, defaultDuration: 1h, maxDuration: 4h }' }),
      ),
    ).toMatch(/set privileged: true/);
  });

  it('refuses it on a cluster declared CONFIG_MAP (aws-auth) or none, and next to RBAC levels', () => {
    expect(problemsOf(policyText({ mapping: 'aws-auth' }))).toMatch(
      /CONFIG_MAP \(aws-auth\) cluster cannot hold them/,
    );
    expect(problemsOf(policyText({ mapping: 'none' }))).toMatch(/identityMapping none has none/);
    expect(problemsOf(policyText({ levels: '[edit, view]' }))).toMatch(/level "view" writes RBAC/);
    // auto is decided at run time (activation refuses it on a CONFIG_MAP cluster, with the reason).
    expect(() => parsePolicy(policyText({ mapping: 'auto' }))).not.toThrow();
  });

  it("plans an association scoped to the grant's namespace, no RoleBinding, checks from AWS's rules", () => {
    const { policy } = parsePolicy(policyText());
    const plan = editPlan();
    expect(plan.roleBinding).toBeUndefined();
    expect(plan.accessPolicy).toEqual({
      name: 'AmazonEKSEditPolicy',
      policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy',
      accessScope: { type: 'namespace', namespaces: ['test'] },
    });
    expect(plan.checks[0]).toEqual({ namespace: 'test', verb: 'create', group: '', resource: 'configmaps' });
    expect(accessPolicyNameOf(accessPolicyArn('AmazonEKSViewPolicy', 'aws-cn'))).toBe('AmazonEKSViewPolicy');
  });
});

describe('sealed grant tags on the access entry', () => {
  const keys = testSealKeys();
  const facts: PolicyGrantFacts = {
    grantId: 'ea-aaaaaaaa',
    cluster: 'api',
    namespace: 'test',
    level: 'edit',
    policy: 'AmazonEKSEditPolicy',
    username: 'eks-access:alice',
    principalArn: 'arn:aws:iam::111122223333:user/alice',
    roleArn: 'arn:aws:iam::111122223333:role/eks-access/api/eksa-alice-0123456789',
    expiresAt: Date.parse('2026-01-01T12:00:00Z'),
    requester: 'U0ALICE',
  };
  const entryWith = (tags: Record<string, string>) => ({
    roleArn: facts.roleArn,
    username: facts.username,
    tags: { [PRINCIPAL_TAG]: facts.principalArn, ...tags },
  });

  it('reads back what it wrote, within what EKS allows in a tag', () => {
    const tag = grantTag(keys, facts);
    expect(tag.value.length).toBeLessThanOrEqual(256);
    expect(tag.value).toMatch(/^[\w +\-=.:/@]+$/);
    expect(readGrantTags(keys, 'api', entryWith({ [tag.key]: tag.value }))).toEqual({
      sealed: [facts],
      unsealed: [],
    });
  });

  it('counts for nothing when anything in it was changed: namespace, expiry, principal, cluster', () => {
    const tag = grantTag(keys, facts);
    const other = tag.value.replace('test/', 'prod/');
    const later = tag.value.replace(String(facts.expiresAt), String(facts.expiresAt + 3_600_000));
    for (const value of [other, later]) {
      expect(readGrantTags(keys, 'api', entryWith({ [tag.key]: value })).sealed).toEqual([]);
    }
    expect(
      readGrantTags(keys, 'api', { ...entryWith({ [tag.key]: tag.value }), tags: { [tag.key]: tag.value } })
        .sealed,
    ).toEqual([]);
    expect(readGrantTags(keys, 'other', entryWith({ [tag.key]: tag.value })).sealed).toEqual([]);
  });

  it('narrows an association to the live grants of its policy, and never widens it', () => {
    const now = facts.expiresAt - 1_000;
    const grants = [
      facts,
      { ...facts, grantId: 'ea-b', namespace: 'prod' },
      { ...facts, grantId: 'ea-c', namespace: 'old', expiresAt: now - 1 },
      { ...facts, grantId: 'ea-d', namespace: 'viewed', policy: 'AmazonEKSViewPolicy' as const },
    ];
    expect(namespacesToKeep(grants, 'AmazonEKSEditPolicy', now, ['test', 'old', 'viewed', 'x'])).toEqual([
      'test',
    ]);
    // prod is a sealed live grant's, but the association does not hold it: it is not added back.
    expect(namespacesToKeep(grants, 'AmazonEKSEditPolicy', now, ['test'])).toEqual(['test']);
  });
});

describe("the platform's access-policy authorizer", () => {
  const entry: EntryPolicies = {
    username: 'eks-access:alice',
    policies: [{ name: 'AmazonEKSEditPolicy', scope: { type: 'namespace', namespaces: ['test', 'team-*'] } }],
  };
  const ask = (namespace: string, verb = 'create', resource = 'configmaps', user = 'eks-access:alice') =>
    decide({ user, resourceAttributes: { namespace, verb, group: '', resource } }, entry);

  it('allows what the policy allows in its namespaces (patterns too), and nothing elsewhere', () => {
    expect(ask('test')).toBe('AmazonEKSEditPolicy');
    expect(ask('team-a')).toBe('AmazonEKSEditPolicy');
    expect(ask('default')).toBeUndefined();
    expect(ask('')).toBeUndefined();
    expect(ask('test', 'create', 'roles')).toBeUndefined();
    expect(ask('test', 'escalate', 'configmaps')).toBeUndefined();
  });

  it('answers only for the username the entry maps, and reads principal ids from the authenticator uid', () => {
    expect(ask('test', 'create', 'configmaps', 'eks-access:mallory')).toBeUndefined();
    expect(
      decide(
        {
          user: 'eks-access:alice',
          resourceAttributes: { namespace: 'test', verb: 'get', resource: 'pods' },
        },
        undefined,
      ),
    ).toBeUndefined();
    expect(principalIdOf('aws-iam-authenticator:123456789012:AROAEXAMPLE')).toBe('AROAEXAMPLE');
    expect(principalIdOf('system:serviceaccount:x')).toBeUndefined();
  });
});

describe("the worker's IAM policy for a cluster of access-policy levels", () => {
  it('associates only offered policies, namespace-scoped, within the offered namespaces, on our entries', async () => {
    const { renderIamPolicies } = await import('../../src/domain/bot-permissions.js');
    const { policy } = parsePolicy(policyText());
    const statements = renderIamPolicies(policy).worker.Statement;
    const associate = statements.find((s) => s.Sid === 'AssociateAccessPolicies');
    expect(associate).toEqual({
      Sid: 'AssociateAccessPolicies',
      Effect: 'Allow',
      Action: ['eks:AssociateAccessPolicy'],
      Resource: ['arn:aws:eks:eu-west-1:111122223333:access-entry/api/role/111122223333/eksa-*/*'],
      Condition: {
        StringEquals: { 'eks:accessScope': 'namespace' },
        ArnEquals: { 'eks:policyArn': ['arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy'] },
        'ForAllValues:StringLike': { 'eks:namespaces': ['test'] },
      },
    });
    // Nothing else anywhere may associate a policy.
    expect(statements.filter((s) => s.Action.includes('eks:AssociateAccessPolicy'))).toHaveLength(1);
  });
});

describe("doctor's migration advice", () => {
  it('names the next mode, the command and what changes; nothing past API', async () => {
    const { migrationAdvice } = await import('../../src/operator/doctor.js');
    expect(migrationAdvice('CONFIG_MAP', 'prod')).toMatch(
      /aws eks update-cluster-config --name prod --access-config authenticationMode=API_AND_CONFIG_MAP.*access-policy levels become possible/,
    );
    expect(migrationAdvice('API_AND_CONFIG_MAP', 'prod')).toMatch(
      /authenticationMode=API: aws-auth stops being read/,
    );
    expect(migrationAdvice('API', 'prod')).toBeUndefined();
  });
});

describe('what approvers and the request form are shown', () => {
  it('names the access policy, its scope and that nothing is written into the cluster; no RoleBinding', async () => {
    const { planSummary } = await import('../../src/adapters/slack/messages/approval.js');
    const { policy } = parsePolicy(policyText());
    const summary = planSummary(editPlan());
    expect(summary).toContain('EKS access entry for Kubernetes user `eks-access:alice`');
    expect(summary).toMatch(
      /EKS access policy `AmazonEKSEditPolicy` \(read, and write workloads.*scoped to namespace `test` only; nothing is written into the cluster/,
    );
    expect(summary).not.toContain('RoleBinding');
  });
});

describe('activation on a cluster whose mode is known only at run time', () => {
  it('refuses an access-policy level where auto resolved to aws-auth (CONFIG_MAP), saying why and what to run', async () => {
    const { policyEntriesOf } = await import('../../src/engine/access-policy-grants.js');
    const backends = { mapping: { mode: 'aws-auth' } } as unknown as Parameters<typeof policyEntriesOf>[0];
    let refusal: unknown;
    try {
      policyEntriesOf(backends, { cluster: 'legacy', level: 'edit' }, 'AmazonEKSEditPolicy');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(AccessError);
    expect(refusal).toMatchObject({
      kind: 'misconfigured',
      message: expect.stringContaining('cluster legacy maps people through aws-auth'),
      hint: expect.stringContaining('authenticationMode=API_AND_CONFIG_MAP'),
    });
  });
});

describe("doctor's view of the associations on our entries", () => {
  const EDIT = accessPolicyArn('AmazonEKSEditPolicy');
  const entry = (username: string, associations: PolicyEntry['associations']): PolicyEntry => ({
    roleArn: `arn:aws:iam::111122223333:role/eks-access/api/eksa-${username}`,
    username,
    tags: {},
    associations,
  });

  it('says what our entries hold, policy by policy, and passes when every grant could have given it', async () => {
    const { associationsCheck } = await import('../../src/operator/doctor.js');
    const { policy } = parsePolicy(policyText());
    expect(associationsCheck(policy, 'api', [])).toEqual({ ok: true, detail: '0 access entries of ours' });
    expect(
      associationsCheck(policy, 'api', [
        entry('alice', [{ policyArn: EDIT, namespaces: ['test'], scope: 'namespace' }]),
        entry('bob', [{ policyArn: EDIT, namespaces: ['test'], scope: 'namespace' }]),
      ]),
    ).toEqual({ ok: true, detail: '2 access entries of ours: AmazonEKSEditPolicy in test (2 people)' });
  });

  it('fails naming each association no grant here could have made: cluster-wide, another policy, another namespace', async () => {
    const { associationsCheck } = await import('../../src/operator/doctor.js');
    const { policy } = parsePolicy(policyText());
    const result = associationsCheck(policy, 'api', [
      entry('alice', [
        { policyArn: EDIT, namespaces: ['test', 'prod'], scope: 'namespace' },
        { policyArn: accessPolicyArn('AmazonEKSViewPolicy'), namespaces: [], scope: 'cluster' },
      ]),
      entry('bob', [
        { policyArn: accessPolicyArn('AmazonEKSAdminPolicy'), namespaces: ['test'], scope: 'namespace' },
      ]),
    ]);
    expect(result.ok).toBe(false);
    expect(result.detail).toBe(
      '2 access entries of ours; wider than any grant here: alice: AmazonEKSEditPolicy in prod; alice: AmazonEKSViewPolicy cluster-wide; bob: AmazonEKSAdminPolicy in test',
    );
    expect(result.fix).toMatch(/aws eks disassociate-access-policy/);
  });
});
