// Records as the Slack flow leaves them, for tests and benchmarks that start at "approved", and the
// EKS cluster those in access-entries mode need in ministack.
import { randomBytes } from 'node:crypto';
import { CreateClusterCommand, type EKSClient } from '@aws-sdk/client-eks';
import { activationDeadline, type Grant, newGrantId } from '../../src/domain/grant.js';
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
    activateBy: activationDeadline(now),
    extensions: [],
  };
  return { ...grant, decisionSeal: sealDecision(keys, grant) };
}

/**
 * Person number `n`'s active grant as the worker leaves it (one approval, an hour from `now`), for
 * benchmarks that fill Redis with live grants without running their activations.
 */
export function activeBenchGrant(
  n: number,
  where: { accountId: string; cluster: string; namespace: string; now: number },
): Grant {
  const { accountId, cluster, namespace, now } = where;
  return {
    id: newGrantId((k) => randomBytes(k)),
    version: 2,
    status: 'active',
    requester: {
      slackUserId: `U${String(n).padStart(9, '0')}`,
      principalArn: `arn:aws:iam::${accountId}:user/person-${n}`,
      kubernetesUsername: `oidc:person-${n}`,
    },
    cluster,
    namespace,
    level: 'view',
    durationSeconds: 3600,
    reason: 'INC-1234 looking at the payments backlog with the on-call team',
    requiredApprovals: 1,
    approvals: [{ slackUserId: 'U0APPROVER', at: now }],
    createdAt: now,
    pendingUntil: now + 86_400_000,
    decidedAt: now,
    activatedAt: now,
    expiresAt: now + 3_600_000,
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
