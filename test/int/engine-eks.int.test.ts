// The EKS connection path on emulators that verify signatures (test/platform/strict-aws.ts): a cluster
// made with CreateCluster, the engine's `connection: { eks: {} }` (DescribeCluster + bearer token), the
// token checked the way aws-iam-authenticator checks it (STS must answer with the bot's identity), the
// token cache, and a cross-account cluster reached through AssumeRole.
import {
  CreateClusterCommand,
  DescribeClusterCommand,
  EKSClient,
  ListAccessEntriesCommand,
} from '@aws-sdk/client-eks';
import { CreateRoleCommand, GetRoleCommand, type IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import type { STSClient } from '@aws-sdk/client-sts';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import { PolicyClusterConnections } from '../../src/adapters/k8s/cluster-connections.js';
import { parsePolicy } from '../../src/config/load.js';
import type { AccessError } from '../../src/domain/errors.js';
import { personalRoleFor } from '../../src/domain/plan.js';
import { uniqueName } from '../platform/context.js';
import { waitUntil } from '../platform/processes.js';
import { type StrictAws, startStrictAws } from '../platform/strict-aws.js';
import { recordAwsRequests, type SentAwsRequest } from '../support/aws-requests.js';
import { createStrictCluster, strictPolicy } from '../support/strict-eks.js';

let aws: StrictAws;
beforeAll(async () => {
  aws = await startStrictAws(uniqueName('ministack-auth'));
});
afterAll(async () => {
  await aws?.stop();
});

const allowAll = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['eks:*', 'iam:*', 'sts:AssumeRole'], Resource: '*' }],
};

const eksAs = (credentials: AwsCredentials) =>
  new EKSClient({ region: aws.region, endpoint: aws.endpoint, credentials });

/** The bot: an IAM user with an access key and a policy for what it calls. */
const botUser = () => aws.createUser('eks-access-bot', allowAll);

const createCluster = (credentials: AwsCredentials, accountId: string) =>
  createStrictCluster(aws, credentials, accountId);

const policyFor = (cluster: string, accountId: string, eks: string) =>
  strictPolicy(aws, cluster, { accountId, eks, name: 'eks-policy' });

type Sent = SentAwsRequest;
const recordAws = (sent: Sent[]) => (_cluster: string, client: IAMClient | EKSClient | STSClient) =>
  recordAwsRequests(client, sent);

const manualClock = (start: number) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

/**
 * What aws-iam-authenticator does with a bearer token: decode it, accept only a presigned
 * GetCallerIdentity for a regional STS host that signed x-k8s-aws-id, send it to STS with the cluster id
 * header, and take the caller's ARN from the answer. Here STS is the strict emulator.
 */
async function authenticate(
  token: string,
  clusterId: string,
): Promise<{ arn: string } | { status: number; error: string }> {
  const prefix = 'k8s-aws-v1.';
  if (!token.startsWith(prefix)) return { status: 0, error: 'not an EKS token' };
  const url = new URL(Buffer.from(token.slice(prefix.length), 'base64url').toString('utf8'));
  const query = url.searchParams;
  if (url.protocol !== 'https:' || !/^sts\.[a-z0-9-]+\.amazonaws\.com$/.test(url.hostname))
    return { status: 0, error: `not an STS host: ${url.host}` };
  if (url.pathname !== '/' || query.get('Action') !== 'GetCallerIdentity')
    return { status: 0, error: 'not GetCallerIdentity' };
  if (!(query.get('X-Amz-SignedHeaders') ?? '').split(';').includes('x-k8s-aws-id'))
    return { status: 0, error: 'x-k8s-aws-id is not signed' };
  if (Number(query.get('X-Amz-Expires')) > 15 * 60) return { status: 0, error: 'lives too long' };
  const response = await request(`${aws.endpoint}/${url.search}`, {
    headers: { host: url.host, 'x-k8s-aws-id': clusterId },
  });
  const body = await response.body.text();
  const arn = /<Arn>([^<]+)<\/Arn>/.exec(body)?.[1];
  if (response.statusCode !== 200 || !arn) {
    return { status: response.statusCode, error: /<Code>([^<]+)<\/Code>/.exec(body)?.[1] ?? body };
  }
  return { arn };
}

const envFor = () => ({
  AWS_ENDPOINT_URL_IAM: aws.endpoint,
  AWS_ENDPOINT_URL_STS: aws.endpoint,
  AWS_ENDPOINT_URL_EKS: aws.endpoint,
});

/** The bot, a cluster in its own account, and the engine's connections to it (AWS requests recorded). */
async function sameAccountSetUp(clock: { now(): number }) {
  const bot = await botUser();
  const cluster = await createCluster(aws.rootOf(aws.accountId), aws.accountId);
  const sent: Sent[] = [];
  const connections = new PolicyClusterConnections({
    policy: policyFor(cluster, aws.accountId, '{}'),
    env: envFor(),
    clock,
    credentials: bot.credentials,
    instrument: { aws: recordAws(sent) },
  });
  return { bot, cluster, sent, connections };
}

describe('EKS connection', () => {
  it('DescribeCluster gives endpoint and CA; the bearer token is one STS accepts as the bot, only for that cluster', async () => {
    const { bot, cluster, sent, connections } = await sameAccountSetUp(manualClock(Date.now()));
    const described = await eksAs(bot.credentials).send(new DescribeClusterCommand({ name: cluster }));

    const kc = await connections.kubeConfig(cluster);
    expect(kc.getCurrentCluster()?.server).toBe(described.cluster?.endpoint);
    expect(kc.getCurrentCluster()?.caData).toBe(described.cluster?.certificateAuthority?.data);
    const token = kc.getCurrentUser()?.token ?? '';
    expect(token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
    expect(sent.map((s) => s.command)).toEqual(['DescribeClusterCommand']);
    expect(sent[0]?.accessKeyId).toBe(bot.credentials.accessKeyId);

    expect(await authenticate(token, cluster)).toEqual({ arn: bot.arn });
    // Presented to another cluster (x-k8s-aws-id differs), the signature no longer matches.
    expect(await authenticate(token, `${cluster}-other`)).toMatchObject({ status: 403 });
    // One character of the signature changed.
    const url = Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8');
    const tampered = url.replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`,
    );
    expect(tampered).not.toBe(url);
    const tamperedToken = `k8s-aws-v1.${Buffer.from(tampered).toString('base64url')}`;
    expect(await authenticate(tamperedToken, cluster)).toEqual({
      status: 403,
      error: 'SignatureDoesNotMatch',
    });
    // Signed by a key STS does not know.
    const forged = url.replace(bot.credentials.accessKeyId, 'AKIAFORGEDFORGEDXXXX');
    expect(
      await authenticate(`k8s-aws-v1.${Buffer.from(forged).toString('base64url')}`, cluster),
    ).toMatchObject({
      status: 403,
    });
  });

  it('reuses the token for 14 minutes, then signs a new one; DescribeCluster runs once', async () => {
    const clock = manualClock(Date.now());
    const { cluster, sent, connections } = await sameAccountSetUp(clock);
    const first = await connections.kubeConfig(cluster);
    const token = first.getCurrentUser()?.token;

    clock.advance(13 * 60_000 + 59_000);
    const later = await connections.kubeConfig(cluster);
    expect(later).toBe(first);
    expect(later.getCurrentUser()?.token).toBe(token);

    clock.advance(2_000); // 14 min 1 s after signing
    const renewed = await connections.kubeConfig(cluster);
    const renewedToken = renewed.getCurrentUser()?.token ?? '';
    expect(renewedToken).not.toBe(token);
    const signedAt = new URL(Buffer.from(renewedToken.slice(11), 'base64url').toString()).searchParams.get(
      'X-Amz-Date',
    );
    expect(signedAt).toBe(new Date(clock.now()).toISOString().replace(/[-:]|\.\d{3}/g, ''));
    expect(renewed.getCurrentCluster()?.server).toBe(first.getCurrentCluster()?.server);
    expect(sent.filter((s) => s.command === 'DescribeClusterCommand')).toHaveLength(1);
  });
});

describe('cross-account cluster (connection.eks.assumeRoleArn)', () => {
  const accountB = '210987654321';

  async function accessRoleInB(trusted: string): Promise<string> {
    const iamB = aws.iamAs(aws.rootOf(accountB));
    const name = uniqueName('eks-access-bot-access');
    const role = await iamB.send(
      new CreateRoleCommand({
        RoleName: name,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: trusted }, Action: 'sts:AssumeRole' }],
        }),
      }),
    );
    await iamB.send(
      new PutRolePolicyCommand({
        RoleName: name,
        PolicyName: 'bot',
        PolicyDocument: JSON.stringify(allowAll),
      }),
    );
    return role.Role?.Arn ?? '';
  }

  it("creates the personal role and access entry in the cluster's account with AssumeRole credentials", async () => {
    const bot = await botUser();
    const roleArn = await accessRoleInB(bot.arn);
    const cluster = await createCluster(aws.rootOf(accountB), accountB);
    const sent: Sent[] = [];
    const policy = policyFor(cluster, accountB, `{ assumeRoleArn: "${roleArn}" }`);
    const connections = new PolicyClusterConnections({
      policy,
      env: envFor(),
      clock: { now: () => Date.now() },
      credentials: bot.credentials,
      instrument: { aws: recordAws(sent) },
    });
    const backends = await connections.forCluster(cluster);
    const principalArn = `arn:aws:iam::${aws.accountId}:user/${uniqueName('alice')}`;
    const personal = personalRoleFor(policy, {
      cluster,
      principalArn,
      username: 'eks-access:alice',
      expiresAt: Date.now() + 3_600_000,
    });
    await backends.iam.ensureRole(personal);
    await backends.mapping.upsert({ roleArn: personal.arn, username: 'eks-access:alice', groups: [] });

    // In account B, under our path, with the ARN the plan promised; nothing in the bot's own account.
    const inB = await aws.iamAs(aws.rootOf(accountB)).send(new GetRoleCommand({ RoleName: personal.name }));
    expect(inB.Role?.Arn).toBe(personal.arn);
    expect(personal.arn).toContain(`::${accountB}:role/eks-access/`);
    await expect(
      aws.iamAs(aws.rootOf(aws.accountId)).send(new GetRoleCommand({ RoleName: personal.name })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
    const entries = await eksAs(aws.rootOf(accountB)).send(
      new ListAccessEntriesCommand({ clusterName: cluster }),
    );
    expect(entries.accessEntries).toContain(personal.arn);

    // Only AssumeRole was signed with the bot's own key; every IAM and EKS call with the session's.
    const assume = sent.filter((s) => s.command === 'AssumeRoleCommand');
    expect(assume).toEqual([
      { command: 'AssumeRoleCommand', accessKeyId: bot.credentials.accessKeyId, attempt: 1 },
    ]);
    const others = sent.filter((s) => s.command !== 'AssumeRoleCommand');
    expect(others.map((s) => s.command)).toEqual(
      expect.arrayContaining(['DescribeClusterCommand', 'CreateRoleCommand', 'CreateAccessEntryCommand']),
    );
    for (const s of others) {
      expect(s.accessKeyId).toMatch(/^ASIA/);
      expect(s.accessKeyId).not.toBe(bot.credentials.accessKeyId);
    }

    // Teardown in B works through the same credentials.
    await backends.mapping.remove(personal.arn);
    await backends.iam.retireRole(personal.name, principalArn, Date.now());
    await expect(
      aws.iamAs(aws.rootOf(accountB)).send(new GetRoleCommand({ RoleName: personal.name })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
  });

  it('a role in the other account that does not trust the bot: the connection fails, naming the role', async () => {
    const bot = await botUser();
    const roleArn = await accessRoleInB(`arn:aws:iam::${aws.accountId}:user/someone-else`);
    const cluster = await createCluster(aws.rootOf(accountB), accountB);
    const connections = new PolicyClusterConnections({
      policy: policyFor(cluster, accountB, `{ assumeRoleArn: "${roleArn}" }`),
      env: envFor(),
      clock: { now: () => Date.now() },
      credentials: bot.credentials,
    });
    const error = (await connections.forCluster(cluster).catch((e: unknown) => e)) as AccessError;
    expect(error.kind).toBe('misconfigured');
    expect(error.message).toContain(roleArn);
  });
});
