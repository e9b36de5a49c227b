// Proof that the test platform is real (issue 2, section 5): each test asserts a behaviour that only the
// real server has — RBAC decisions and escalation prevention, optimistic concurrency, the AWS error
// vocabulary, delayed BullMQ jobs — so a stand-in that merely answers "ok" would fail here.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateAccessEntryCommand,
  CreateClusterCommand,
  DeleteAccessEntryCommand,
  EKSClient,
  ListAccessEntriesCommand,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-eks';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  GetRoleCommand,
  IAMClient,
  NoSuchEntityException,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  ApiException,
  AuthorizationV1Api,
  CoreV1Api,
  type KubeConfig,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  adminKubeConfig,
  awsClientConfig,
  kubeConfigAs,
  kubeconfigFor,
  platform,
  uniqueName,
} from '../platform/context.js';

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (error) {
    if (error instanceof ApiException) return error.code;
    throw error;
  }
}

describe('Kubernetes (real kube-apiserver with RBAC)', () => {
  let admin: KubeConfig;
  let namespace: string;
  let alice: string;

  beforeAll(async () => {
    admin = adminKubeConfig();
    namespace = uniqueName('test');
    alice = uniqueName('alice');
    await admin.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  });

  afterAll(async () => {
    if (admin === undefined) return; // beforeAll failed: nothing to clean up
    await admin.makeApiClient(CoreV1Api).deleteNamespace({ name: namespace });
  });

  const canCreateJobs = async (user: string) => {
    const review = await admin.makeApiClient(AuthorizationV1Api).createSubjectAccessReview({
      body: {
        spec: {
          user,
          groups: ['system:authenticated'],
          resourceAttributes: { namespace, group: 'batch', resource: 'jobs', verb: 'create' },
        },
      },
    });
    return review.status?.allowed === true;
  };

  it('denies, then allows after a RoleBinding to ClusterRole edit, and refuses escalation to admin', async () => {
    expect(await canCreateJobs(alice)).toBe(false);

    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: `${alice}-edit` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: alice }],
      },
    });
    expect(await canCreateJobs(alice)).toBe(true);

    // Alice, authenticated by her own client certificate, may not grant herself more than she holds.
    const asAlice = (await kubeConfigAs(alice)).makeApiClient(RbacAuthorizationV1Api);
    const escalation = asAlice.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: `${alice}-admin` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: alice }],
      },
    });
    expect(await statusOf(escalation)).toBe(403);
  });

  it('kubectl authenticates minted identities (auth can-i as alice)', async () => {
    const bob = uniqueName('bob');
    const kubeconfig = await kubeconfigFor(bob, ['eks-access-test-group']);
    const { stdout } = await promisify(execFile)(platform().kube.kubectl, [
      `--kubeconfig=${kubeconfig}`,
      'auth',
      'whoami',
      '-o',
      'jsonpath={.status.userInfo.username} {.status.userInfo.groups}',
    ]);
    expect(stdout).toContain(bob);
    expect(stdout).toContain('eks-access-test-group');
  });

  it('refuses a ConfigMap replace carrying a stale resourceVersion with 409 (aws-auth style)', async () => {
    const core = admin.makeApiClient(CoreV1Api);
    const name = uniqueName('aws-auth');
    const created = await core.createNamespacedConfigMap({
      namespace: 'kube-system',
      body: { metadata: { name }, data: { mapRoles: '[]\n' } },
    });
    try {
      const stale = created.metadata?.resourceVersion ?? '';
      expect(stale).not.toBe('');
      await core.replaceNamespacedConfigMap({
        name,
        namespace: 'kube-system',
        body: { metadata: { name, resourceVersion: stale }, data: { mapRoles: '- rolearn: a\n' } },
      });
      const replay = core.replaceNamespacedConfigMap({
        name,
        namespace: 'kube-system',
        body: { metadata: { name, resourceVersion: stale }, data: { mapRoles: '- rolearn: b\n' } },
      });
      expect(await statusOf(replay)).toBe(409);
      const current = await core.readNamespacedConfigMap({ name, namespace: 'kube-system' });
      expect(current.data?.['mapRoles']).toBe('- rolearn: a\n');
    } finally {
      await core.deleteNamespacedConfigMap({ name, namespace: 'kube-system' });
    }
  });
});

describe('IAM and STS (moto)', () => {
  const trust = (service: string) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
    });

  it('creates, reads, updates and deletes a role, and assumes it', async () => {
    const iam = new IAMClient(awsClientConfig('iam'));
    const sts = new STSClient(awsClientConfig('sts'));
    const roleName = uniqueName('eks-access-grant');
    const { accountId } = platform().aws;

    const created = await iam.send(
      new CreateRoleCommand({ RoleName: roleName, AssumeRolePolicyDocument: trust('ec2.amazonaws.com') }),
    );
    expect(created.Role?.Arn).toBe(`arn:aws:iam::${accountId}:role/${roleName}`);

    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: roleName, PolicyDocument: trust('eks.amazonaws.com') }),
    );
    const read = await iam.send(new GetRoleCommand({ RoleName: roleName }));
    expect(decodeURIComponent(read.Role?.AssumeRolePolicyDocument ?? '')).toContain('eks.amazonaws.com');

    const me = await sts.send(new GetCallerIdentityCommand({}));
    expect(me.Account).toBe(accountId);

    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: created.Role?.Arn,
        RoleSessionName: 'eks-access-test',
        DurationSeconds: 900,
      }),
    );
    expect(assumed.Credentials?.AccessKeyId).toBeTruthy();
    const asRole = new STSClient({
      ...awsClientConfig('sts'),
      credentials: {
        accessKeyId: assumed.Credentials?.AccessKeyId ?? '',
        secretAccessKey: assumed.Credentials?.SecretAccessKey ?? '',
        sessionToken: assumed.Credentials?.SessionToken ?? '',
      },
    });
    const who = await asRole.send(new GetCallerIdentityCommand({}));
    expect(who.Arn).toBe(`arn:aws:sts::${accountId}:assumed-role/${roleName}/eks-access-test`);

    await iam.send(new DeleteRoleCommand({ RoleName: roleName }));
    await expect(iam.send(new GetRoleCommand({ RoleName: roleName }))).rejects.toBeInstanceOf(
      NoSuchEntityException,
    );
  });
});

describe('EKS access entries (ministack)', () => {
  it('creates, lists and deletes access entries with EKS error semantics', async () => {
    const eks = new EKSClient(awsClientConfig('eks'));
    const { accountId } = platform().aws;
    const clusterName = uniqueName('cluster');
    await eks.send(
      new CreateClusterCommand({
        name: clusterName,
        roleArn: `arn:aws:iam::${accountId}:role/eks-cluster`,
        resourcesVpcConfig: { subnetIds: ['subnet-00000001'] },
      }),
    );
    const principalArn = `arn:aws:iam::${accountId}:role/${uniqueName('dev')}`;
    const entry = { clusterName, principalArn, kubernetesGroups: ['eks-access:test'], type: 'STANDARD' };

    const created = await eks.send(new CreateAccessEntryCommand(entry));
    expect(created.accessEntry?.principalArn).toBe(principalArn);
    await expect(eks.send(new CreateAccessEntryCommand(entry))).rejects.toBeInstanceOf(
      ResourceInUseException,
    );

    const listed = await eks.send(new ListAccessEntriesCommand({ clusterName }));
    expect(listed.accessEntries).toContain(principalArn);

    await eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn }));
    const after = await eks.send(new ListAccessEntriesCommand({ clusterName }));
    expect(after.accessEntries ?? []).not.toContain(principalArn);
    await expect(
      eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});

describe('BullMQ (real redis-server)', () => {
  const connection = () => {
    const url = new URL(platform().redisUrl);
    return { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  };

  it('processes a job, and fires a delayed job only after its delay', async () => {
    const name = uniqueName('platform-proof');
    const queue = new Queue(name, { connection: connection() });
    const events = new QueueEvents(name, { connection: connection() });
    const worker = new Worker(name, async (job: Job<{ n: number }>) => job.data.n * 2, {
      connection: connection(),
    });
    try {
      await Promise.all([events.waitUntilReady(), worker.waitUntilReady()]);
      const now = await queue.add('now', { n: 21 });
      expect(await now.waitUntilFinished(events, 15_000)).toBe(42);

      const delayMs = 1_500;
      const completed = new Promise<Job>((resolve) => {
        worker.on('completed', (job) => {
          if (job.name === 'later') resolve(job);
        });
      });
      const later = await queue.add('later', { n: 1 }, { delay: delayMs });
      const done = await completed;
      expect(done.id).toBe(later.id);
      expect((done.processedOn ?? 0) - later.timestamp).toBeGreaterThanOrEqual(delayMs);
    } finally {
      await worker.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
