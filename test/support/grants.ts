// Records as the Slack flow leaves them, for tests and benchmarks that start at "approved", and the
// EKS cluster those in access-entries mode need in ministack.
import { randomBytes } from 'node:crypto';
import { CreateClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { type Grant, newGrantId } from '../../src/domain/grant.js';

/**
 * An approved grant (approved by U0APPROVER and U0SECOND at `now`: the quorum of a privileged level
 * such as the runbook's), ready for `enqueueActivation`.
 */
export function approvedGrant(fields: {
  requester: Grant['requester'];
  cluster: string;
  namespace: string;
  level: string;
  durationSeconds: number;
  reason: string;
  now: number;
}): Grant {
  const { now, ...rest } = fields;
  return {
    id: newGrantId((n) => randomBytes(n)),
    version: 1,
    status: 'approved',
    ...rest,
    requiredApprovals: 2,
    approvals: [
      { slackUserId: 'U0APPROVER', at: now },
      { slackUserId: 'U0SECOND', at: now },
    ],
    createdAt: now,
    pendingUntil: now + 86_400_000,
    decidedAt: now,
    extensions: [],
  };
}

/** An EKS cluster in ministack with the access-entry API on. */
export async function createEksCluster(eks: EKSClient, name: string, accountId: string): Promise<void> {
  await eks.send(
    new CreateClusterCommand({
      name,
      roleArn: `arn:aws:iam::${accountId}:role/eks-cluster`,
      resourcesVpcConfig: { subnetIds: ['subnet-1'] },
      accessConfig: { authenticationMode: 'API' },
    }),
  );
}
