// Records as the Slack flow leaves them, for tests and benchmarks that start at "approved", and the
// EKS cluster those in access-entries mode need in ministack.
import { randomBytes } from 'node:crypto';
import { CreateClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { type Grant, newGrantId } from '../../src/domain/grant.js';
import { type SealKeys, sealDecision } from '../../src/domain/seal.js';
import { testSealKeys } from './seal.js';

/**
 * An approved grant (approved by `approvers` at `now`; by default U0APPROVER and U0SECOND, the quorum of a privileged
 * level such as the runbook's), sealed as the bot
 * seals a decision (with the tests' keys unless `keys` says otherwise), ready for `enqueueActivation`.
 */
export function approvedGrant(
  fields: {
    requester: Grant['requester'];
    cluster: string;
    namespace: string;
    level: string;
    durationSeconds: number;
    reason: string;
    now: number;
    approvers?: readonly string[];
  },
  keys: SealKeys = testSealKeys(),
): Grant {
  const { now, approvers = ['U0APPROVER', 'U0SECOND'], ...rest } = fields;
  const grant: Grant = {
    id: newGrantId((n) => randomBytes(n)),
    version: 1,
    status: 'approved',
    ...rest,
    requiredApprovals: approvers.length,
    approvals: approvers.map((slackUserId) => ({ slackUserId, at: now })),
    createdAt: now,
    pendingUntil: now + 86_400_000,
    decidedAt: now,
    extensions: [],
  };
  return { ...grant, decisionSeal: sealDecision(keys, grant) };
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
