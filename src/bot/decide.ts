// Use case: an approver clicks Approve or Deny. The clicker is the user id from Slack's signed
// payload; the grant is re-read on every attempt and written with compare-and-set, so twenty
// concurrent clicks — or Approve and Deny at once — produce exactly one outcome.

import type { Policy } from '../config/policy.js';
import { assertMayDecide, namespacePolicyOf, quorumReached } from '../domain/decisions.js';
import { formatDuration } from '../domain/duration.js';
import { badInput, conflict } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { activationDeadline, transition } from '../domain/grant.js';
import { sealDecision } from '../domain/seal.js';
import { humanTime } from '../domain/text.js';
import type { Directory } from '../ports/directory.js';
import { dropApprovalReminders } from '../shared/reminders.js';
import { queueApproved } from './approved.js';
import { type FlowDeps, mustGet, updateGrant } from './deps.js';

/**
 * An approval may carry the approver's reason (the namespace's `approvalReason`) and a shorter duration
 * (never longer: for a window, an earlier end).
 */
export type Decision =
  | { kind: 'approve'; reason?: string | undefined; shortenTo?: number | undefined }
  | { kind: 'deny'; reason: string };

export interface DecideResult {
  grant: Grant;
  /** True when this click completed the quorum (or denied): the grant's outcome is now fixed. */
  decisive: boolean;
}

/** The approver groups of the grant's namespace that `slackUserId` is in (read through the directory). */
export async function approverGroupsOf(
  policy: Policy,
  directory: Directory,
  grant: Pick<Grant, 'cluster' | 'namespace'>,
  slackUserId: string,
): Promise<string[]> {
  const ns = namespacePolicyOf(policy, grant);
  const groups = ns?.approvers.groups ?? [];
  return groups.length > 0 ? directory.groupsOf(slackUserId, groups) : [];
}

/** Why a click on a decided request does nothing, naming who decided. */
export function alreadyDecided(grant: Grant): Error {
  const people = (ids: string[]) =>
    ids.map((id) => (id.startsWith('auto:') ? 'a policy rule' : `<@${id}>`)).join(', ');
  switch (grant.status) {
    case 'denied':
      return conflict(
        `Request ${grant.id} was already denied by ${people([grant.denial?.by ?? '?'])}`,
        undefined,
        {
          grantId: grant.id,
        },
      );
    case 'cancelled':
      return conflict(
        grant.endedBy === 'system'
          ? `Request ${grant.id} lapsed: nobody decided in time`
          : `Request ${grant.id} was cancelled by ${people([grant.endedBy ?? grant.requester.slackUserId])}`,
        undefined,
        { grantId: grant.id },
      );
    default:
      return conflict(
        `Request ${grant.id} was already approved by ${people(grant.approvals.map((a) => a.slackUserId))}`,
        `It is ${grant.status} now.`,
        { grantId: grant.id },
      );
  }
}

function lapsedAt(grant: Grant): Error {
  return conflict(
    `Request ${grant.id} lapsed at ${humanTime(grant.pendingUntil)}: nobody decided in time`,
    grant.startsAt !== undefined ? 'Its window has started; the requester can ask again.' : undefined,
    { grantId: grant.id },
  );
}

/** The namespace may ask approvers for a reason; `required` refuses an approval without one. */
function assertApprovalReason(policy: Policy, grant: Grant, reason: string | undefined): void {
  const ns = namespacePolicyOf(policy, grant);
  if (ns?.approvalReason === 'required' && !reason) {
    throw badInput(
      `Approvals in ${grant.namespace} on ${grant.cluster} need a reason`,
      `Approve from the form, or type \`approve ${grant.id} because …\`.`,
    );
  }
}

/** The duration after an approver shortened it; never longer than asked. */
function shortened(grant: Grant, shortenTo: number | undefined): number {
  if (shortenTo === undefined || shortenTo === grant.durationSeconds) return grant.durationSeconds;
  if (!(shortenTo > 0) || shortenTo > grant.durationSeconds) {
    throw badInput(
      `An approver may shorten ${grant.id} (${formatDuration(grant.durationSeconds)}), never lengthen it`,
      `Give a duration up to ${formatDuration(grant.durationSeconds)}.`,
    );
  }
  return shortenTo;
}

/** What an approval adds to its audit event: the reason and a shortened duration. */
function approvalFacts(decision: Decision): Record<string, string | number> {
  if (decision.kind !== 'approve') return {};
  return {
    ...(decision.reason?.trim() ? { reason: decision.reason.trim() } : {}),
    ...(decision.shortenTo !== undefined ? { shortenedToSeconds: decision.shortenTo } : {}),
  };
}

export async function decide(
  deps: FlowDeps,
  grantId: string,
  clicker: string,
  decision: Decision,
): Promise<DecideResult> {
  const first = await mustGet(deps.store, grantId);
  if (first.status !== 'pending') throw alreadyDecided(first);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, first, clicker);
  const now = deps.clock.now();
  const after = await updateGrant(deps, grantId, (current) => {
    if (current.status !== 'pending') throw alreadyDecided(current);
    // Past its lapse time a request is over even before the lapse job has run (a window's start passed).
    if (now >= current.pendingUntil) throw lapsedAt(current);
    assertMayDecide(deps.policy, current, { slackUserId: clicker, memberOfGroups });
    if (decision.kind === 'deny') {
      return transition(current, 'denied', {
        decidedAt: now,
        denial: { by: clicker, reason: decision.reason, at: now },
      });
    }
    const reason = decision.reason?.trim();
    assertApprovalReason(deps.policy, current, reason);
    const durationSeconds = shortened(current, decision.shortenTo);
    const approvals = [
      ...current.approvals,
      {
        slackUserId: clicker,
        at: now,
        ...(memberOfGroups.length > 0 ? { viaGroups: memberOfGroups } : {}),
        ...(reason ? { reason } : {}),
      },
    ];
    if (!quorumReached(approvals, current.requiredApprovals)) {
      return transition(current, 'pending', { approvals, durationSeconds });
    }
    const decided = {
      ...current,
      approvals,
      durationSeconds,
      decidedAt: now,
      activateBy: activationDeadline(now, current.startsAt),
    };
    return transition(current, 'approved', { ...decided, decisionSeal: sealDecision(deps.seal, decided) });
  });
  const details = {
    cluster: after.cluster,
    namespace: after.namespace,
    level: after.level,
    to: after.status,
  };
  if (after.status !== 'pending') await dropApprovalReminders(deps, after);
  if (after.status === 'denied') {
    await deps.audit.append({
      action: 'denied',
      actor: clicker,
      grantId,
      at: now,
      details: { ...details, reason: decision.kind === 'deny' ? decision.reason : '' },
    });
    await deps.notifier.grantChanged(after, {
      kind: 'denied',
      by: clicker,
      reason: after.denial?.reason ?? '',
    });
    return { grant: after, decisive: true };
  }
  if (after.status === 'approved') {
    await deps.audit.append({
      action: 'approved',
      actor: clicker,
      grantId,
      at: now,
      details: { ...details, approvals: after.approvals.length, ...approvalFacts(decision) },
    });
    await deps.notifier.grantChanged(after, { kind: 'approved', by: clicker });
    // A window opens at its start: the activation job waits until then.
    await queueApproved(deps, after);
    return { grant: after, decisive: true };
  }
  await deps.audit.append({
    action: 'approval-progress',
    actor: clicker,
    grantId,
    at: now,
    details: { ...details, approvals: after.approvals.length, required: after.requiredApprovals },
  });
  await deps.notifier.grantChanged(after, { kind: 'approval-progress', by: clicker });
  return { grant: after, decisive: false };
}
