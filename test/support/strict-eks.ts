// EKS clusters and policies on the strict emulator (test/platform/strict-aws.ts), shared by the tests
// that connect the engine to a cluster the way production does (`connection: { eks }`).
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { CreateRoleCommand } from '@aws-sdk/client-iam';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import { parsePolicy } from '../../src/config/load.js';
import type { Policy } from '../../src/config/policy.js';
import { uniqueName } from '../platform/context.js';
import { waitUntil } from '../platform/processes.js';
import type { StrictAws } from '../platform/strict-aws.js';

export type AuthenticationMode = 'CONFIG_MAP' | 'API_AND_CONFIG_MAP' | 'API';

/**
 * A cluster made with CreateCluster by `credentials` in `accountId` (its service role too), waited for
 * until DescribeCluster reports it ACTIVE with a CA. `accessConfig` goes to CreateCluster as it is.
 */
export async function createStrictCluster(
  aws: StrictAws,
  credentials: AwsCredentials,
  accountId: string,
  accessConfig: { authenticationMode?: AuthenticationMode } = { authenticationMode: 'API' },
): Promise<string> {
  const name = uniqueName('eks');
  const serviceRole = await aws.iamAs(credentials).send(
    new CreateRoleCommand({
      RoleName: `${name}-cluster`,
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'eks.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  if (!serviceRole.Role?.Arn?.includes(`::${accountId}:`)) {
    throw new Error(`the cluster's service role landed in the wrong account: ${serviceRole.Role?.Arn}`);
  }
  const eks = new EKSClient({ region: aws.region, endpoint: aws.endpoint, credentials });
  await eks.send(
    new CreateClusterCommand({
      name,
      roleArn: serviceRole.Role.Arn,
      resourcesVpcConfig: { subnetIds: ['subnet-1'] },
      accessConfig,
    }),
  );
  await waitUntil(
    `cluster ${name} ACTIVE`,
    async () => {
      const { cluster } = await eks.send(new DescribeClusterCommand({ name }));
      return cluster?.status === 'ACTIVE' && cluster.certificateAuthority?.data ? true : undefined;
    },
    { timeoutMs: 30_000 },
  );
  return name;
}

/** A one-cluster policy (level `view` in namespace `test`) for a cluster on the strict emulator. */
export function strictPolicy(
  aws: StrictAws,
  cluster: string,
  options: { accountId?: string; eks?: string; identityMapping?: string; name?: string } = {},
): Policy {
  return parsePolicy(
    `
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  ${cluster}:
    region: ${aws.region}
    accountId: "${options.accountId ?? aws.accountId}"
    connection:
      eks: ${options.eks ?? '{}'}
    identityMapping: ${options.identityMapping ?? 'access-entries'}
    namespaces:
      - name: test
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVALS
        levels: [view]
`,
    options.name ?? 'strict-policy',
  ).policy;
}
