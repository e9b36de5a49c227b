// What a compromised worker cannot do with EKS (docs/engine.md, Threat model), tried as the worker: an IAM
// user holding exactly the worker policy `eks-access iam-policy` renders, on the strict emulator, where
// IAM judges EKS's access-entry actions on their own resources and with EKS's condition keys
// (test/platform/ministack-eks-iam.py). The same calls as the account's root succeed: each refusal is
// the worker policy's, not something the emulator cannot do.
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  EKSClient,
  ListAssociatedAccessPoliciesCommand,
} from '@aws-sdk/client-eks';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import { parsePolicy } from '../../src/config/load.js';
import { accessPolicyArn } from '../../src/domain/access-policies.js';
import { renderIamPolicies } from '../../src/domain/bot-permissions.js';
import { uniqueName } from '../platform/context.js';
import { type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { createStrictCluster } from '../support/strict-eks.js';

let aws: StrictAws;
beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-worker-eks'));
});
afterAll(async () => {
  await aws?.stop();
});

const EDIT = accessPolicyArn('AmazonEKSEditPolicy');
const CLUSTER_ADMIN = accessPolicyArn('AmazonEKSClusterAdminPolicy');

interface World {
  cluster: string;
  worker: EKSClient;
  root: EKSClient;
  /** A role of `name` under `path`, made by root. */
  role(path: string, name: string): Promise<string>;
  /** What the personal-role path allows (under /eks-access/<cluster>/, named eksa-…). */
  personalRole(): Promise<string>;
  username: (name: string) => string;
}

async function world(): Promise<World> {
  const rootCredentials = aws.rootOf(aws.accountId);
  const cluster = await createStrictCluster(aws, rootCredentials, aws.accountId);
  const policy = parsePolicy(
    `
settings: { auditChannel: C0AUDIT }
levels:
  eks-edit: { accessPolicy: AmazonEKSEditPolicy, privileged: true, approvals: 1, defaultDuration: 1h, maxDuration: 4h }
clusters:
  ${cluster}:
    region: ${aws.region}
    accountId: "${aws.accountId}"
    connection: { eks: {} }
    identityMapping: access-entries
    namespaces:
      - { name: test, approvers: { users: [U0A] }, channel: C0A, levels: [eks-edit] }
      - { name: team-*, approvers: { users: [U0A] }, channel: C0A, levels: [eks-edit] }
`,
    'worker-eks-policy',
  ).policy;
  const workerUser = await aws.createUser('worker-eks', renderIamPolicies(policy).worker);
  const eksAs = (credentials: AwsCredentials) =>
    new EKSClient({ region: aws.region, endpoint: aws.endpoint, credentials });
  const iam = aws.iamAs(rootCredentials);
  const role = async (path: string, name: string) => {
    const made = await iam.send(
      new CreateRoleCommand({
        Path: path,
        RoleName: name,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: aws.accountId }, Action: 'sts:AssumeRole' }],
        }),
      }),
    );
    return made.Role?.Arn ?? '';
  };
  return {
    cluster,
    worker: eksAs(workerUser.credentials),
    root: eksAs(rootCredentials),
    role,
    personalRole: () => role(`/eks-access/${cluster}/`, uniqueName('eksa-p').slice(0, 60)),
    username: (name) => `eks-access:${aws.accountId}:user:${name}`,
  };
}

const denied = { name: expect.stringMatching(/AccessDenied/) };

describe('the worker policy on EKS, attacked as the worker', () => {
  it('creates access entries only for our personal roles, with a name of the template and no groups', async () => {
    const w = await world();
    const entry = (principalArn: string, extra: { username?: string; kubernetesGroups?: string[] } = {}) =>
      new CreateAccessEntryCommand({ clusterName: w.cluster, principalArn, type: 'STANDARD', ...extra });

    // What a grant does: allowed.
    const mine = await w.personalRole();
    await expect(w.worker.send(entry(mine, { username: w.username('alice') }))).resolves.toBeDefined();

    // Someone else's role (an admin's), even with a name of the template: refused.
    const admin = await w.role('/', uniqueName('platform-admin'));
    await expect(w.worker.send(entry(admin, { username: w.username('alice') }))).rejects.toMatchObject(
      denied,
    );
    // A role under our path that is not a personal role's name: refused.
    const lookalike = await w.role(`/eks-access/${w.cluster}/`, uniqueName('other'));
    await expect(w.worker.send(entry(lookalike, { username: w.username('x') }))).rejects.toMatchObject(
      denied,
    );
    // Our personal role, but as someone outside the template, or with a group: refused.
    const other = await w.personalRole();
    await expect(w.worker.send(entry(other, { username: 'kubernetes-admin' }))).rejects.toMatchObject(denied);
    await expect(
      w.worker.send(entry(other, { username: w.username('bob'), kubernetesGroups: ['system:masters'] })),
    ).rejects.toMatchObject(denied);

    // Root may do each of them: the refusals are the worker policy's.
    await expect(w.root.send(entry(admin, { username: 'kubernetes-admin' }))).resolves.toBeDefined();
    await expect(
      w.root.send(entry(other, { username: 'x', kubernetesGroups: ['system:masters'] })),
    ).resolves.toBeDefined();
  }, 120_000);

  it('associates only the offered policies, namespace-scoped, within the namespaces that offer them', async () => {
    const w = await world();
    const mine = await w.personalRole();
    await w.root.send(
      new CreateAccessEntryCommand({
        clusterName: w.cluster,
        principalArn: mine,
        username: w.username('alice'),
      }),
    );
    const associate = (
      policyArn: string,
      accessScope: { type: 'namespace' | 'cluster'; namespaces?: string[] },
      as = w.worker,
    ) =>
      as.send(
        new AssociateAccessPolicyCommand({
          clusterName: w.cluster,
          principalArn: mine,
          policyArn,
          accessScope,
        }),
      );

    // What a grant does: its namespace, or one of a pattern's.
    await expect(associate(EDIT, { type: 'namespace', namespaces: ['test'] })).resolves.toBeDefined();
    await expect(
      associate(EDIT, { type: 'namespace', namespaces: ['test', 'team-a'] }),
    ).resolves.toBeDefined();

    // Cluster-wide, a namespace nobody offers (alone or among offered ones), a policy never offered: refused.
    await expect(associate(EDIT, { type: 'cluster' })).rejects.toMatchObject(denied);
    await expect(associate(EDIT, { type: 'namespace', namespaces: ['kube-system'] })).rejects.toMatchObject(
      denied,
    );
    await expect(
      associate(EDIT, { type: 'namespace', namespaces: ['test', 'kube-system'] }),
    ).rejects.toMatchObject(denied);
    await expect(associate(CLUSTER_ADMIN, { type: 'namespace', namespaces: ['test'] })).rejects.toMatchObject(
      denied,
    );
    // On an entry that is not ours (an admin's role): refused, even for what a grant would do.
    const admin = await w.role('/', uniqueName('platform-admin'));
    await w.root.send(new CreateAccessEntryCommand({ clusterName: w.cluster, principalArn: admin }));
    await expect(
      w.worker.send(
        new AssociateAccessPolicyCommand({
          clusterName: w.cluster,
          principalArn: admin,
          policyArn: EDIT,
          accessScope: { type: 'namespace', namespaces: ['test'] },
        }),
      ),
    ).rejects.toMatchObject(denied);

    // Nothing refused was written: the entry holds what the grants asked for.
    const held = await w.root.send(
      new ListAssociatedAccessPoliciesCommand({ clusterName: w.cluster, principalArn: mine }),
    );
    expect(held.associatedAccessPolicies?.map((a) => [a.policyArn, a.accessScope])).toEqual([
      [EDIT, { type: 'namespace', namespaces: ['test', 'team-a'] }],
    ]);
    // Root may associate cluster-wide: the refusal above was the worker policy's.
    await expect(associate(CLUSTER_ADMIN, { type: 'cluster' }, w.root)).resolves.toBeDefined();
  }, 120_000);
});
