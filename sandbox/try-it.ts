// The sandbox's start-up line that tells a newcomer what to type and click, with the approval count
// from the same approvalNeed the form, the approval message and the worker use (issue #19: it once
// said "click Approve" where the first namespace's privileged level needs two approvers).
import type { Policy } from '../src/config/policy.js';
import { approvalNeed, clustersOffering, namespacePolicyOf } from '../src/domain/decisions.js';
import { approvalNeedText } from '../src/domain/text.js';

/** The try-it lines for a two-minute request of `namespace` at its first level, as a requester. */
export function tryItLines(policy: Policy, namespace: string | undefined, requester: string): string[] {
  const typed = `/eks-access request ${namespace ?? '<namespace>'} for 2m because trying it`;
  const cluster = namespace ? clustersOffering(policy, namespace)[0] : undefined;
  const ns = cluster && namespace ? namespacePolicyOf(policy, { cluster, namespace }) : undefined;
  const level = ns?.levels[0];
  if (!cluster || !namespace || !level) {
    return [`Type e.g. \`${typed}\` as a requester, switch to an approver and click Approve.`];
  }
  const need = approvalNeed(
    policy,
    { cluster, namespace, level, durationSeconds: 120 },
    { slackUserId: requester, memberOfGroups: [] },
  );
  const then =
    need.count === 0
      ? 'the policy approves it at once.'
      : need.count === 1
        ? 'switch to an approver and click Approve.'
        : `switch to an approver and click Approve, then to another one and click Approve again: ${level} needs ${approvalNeedText(need, level)}.`;
  return [`Type e.g. \`${typed}\` as a requester (level ${level}); ${then}`];
}
