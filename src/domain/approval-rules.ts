// Approval rules: how many approvals a request needs, who may decide it, when quorum is reached, and
// whether the approvals still hold when the worker applies it. Pure functions of trusted data: the
// policy, the stored grant and the Slack user id from a signed payload.

import type { AutoApproveRule, ClusterPolicy, NamespacePolicy, Policy } from '../config/policy.js';
import { requiredApprovalsFor } from '../config/policy.js';
import { sameRole } from './arn.js';
import { BREAK_GLASS_ACTOR, breakGlassActor, breakGlassRuleFor } from './break-glass-rules.js';
import { parseDuration } from './duration.js';
import { forbidden, notFound } from './errors.js';
import type { Approval, Grant } from './grant.js';
import { namespacePolicyFor, namespacePolicyOf, requestableHint } from './namespace-policy.js';
import { resolveRequest } from './request-resolution.js';
import { roleOfRobot } from './robots.js';

/**
 * How many approvers a request (and each of its extensions) at this level in this namespace needs:
 * the one rule lives with the policy schema, whose validator checks a namespace can meet it.
 */
export { requiredApprovalsFor };

/**
 * How many approvals a request needs, and why. The one answer the request form, the command's reply,
 * the approval message and the worker's re-check share (the form once computed its own and was wrong).
 */
export interface ApprovalNeed {
  /** Distinct people who must approve now: 0 when an auto-approve rule covers the request. */
  count: number;
  /** What approvers would need without a rule: the count a grant records (and seals) as requiredApprovals. */
  approvers: number;
  /**
   * Why: the namespace's `approvals`, the level's own `approvals`, the privileged minimum, or an
   * auto-approve rule that approves it at once.
   */
  why: 'namespace' | 'level' | 'privileged' | 'auto-approve';
  privileged: boolean;
  /** The rule that approves it at once, under the name the audit stream uses (`auto:<namespace>#<index>`). */
  auto?: { rule: AutoApproveRule; index: number; actor: string };
}

/**
 * The approvals a request at `level` in `namespace` for `durationSeconds` needs. With `requester`, an
 * auto-approve rule that covers this person counts (0 approvals); without, only the policy's count.
 * Break-glass is not a request: its rule approves at once by its own command (break-glass.ts).
 */
export function approvalNeed(
  policy: Policy,
  request: { cluster: string; namespace: string; level: string; durationSeconds: number },
  requester?: { slackUserId: string; memberOfGroups: readonly string[] },
): ApprovalNeed {
  const ns = namespacePolicyOf(policy, request);
  const level = policy.levels[request.level];
  if (!ns || !level || !ns.levels.includes(request.level)) {
    throw notFound(
      `${request.level} in ${request.namespace} on ${request.cluster} is not in the policy`,
      requestableHint(policy),
    );
  }
  const approvers = requiredApprovalsFor(level, ns);
  const why = level.approvals !== undefined ? 'level' : approvers > ns.approvals ? 'privileged' : 'namespace';
  const auto = requester ? autoApproveRuleFor(ns, { ...request, ...requester }) : undefined;
  if (auto) {
    return {
      count: 0,
      approvers,
      why: 'auto-approve',
      privileged: level.privileged,
      auto: { ...auto, actor: `auto:${request.namespace}#${auto.index}` },
    };
  }
  return { count: approvers, approvers, why, privileged: level.privileged };
}

/** The one quorum rule: requests and extensions are decided when this many distinct people approved. */
export const quorumReached = (approvals: readonly Approval[], required: number): boolean =>
  new Set(approvals.map((a) => a.slackUserId)).size >= required;

/**
 * Approvals an extension of this grant needs: what the request needed, or more if the policy has
 * since become stricter (never fewer: an extension is no cheaper than the access it prolongs).
 */
export function extensionApprovalsRequired(policy: Policy, grant: Grant): number {
  const ns = namespacePolicyOf(policy, grant);
  const offered = ns?.levels.includes(grant.level) && policy.levels[grant.level];
  const now = offered ? approvalNeed(policy, grant).approvers : 1;
  return Math.max(grant.requiredApprovals, now);
}

/** Slack user groups are resolved by the caller (usergroups.users.list) and passed in as ids. */
export interface ApproverContext {
  slackUserId: string;
  /** Ids of the namespace's approver groups this user belongs to. */
  memberOfGroups: readonly string[];
}

export function isApprover(ns: NamespacePolicy, who: ApproverContext): boolean {
  return (
    ns.approvers.users.includes(who.slackUserId) ||
    ns.approvers.groups.some((g) => who.memberOfGroups.includes(g))
  );
}

/**
 * May this person approve (or deny) this grant now? Throws forbidden with the reason otherwise.
 * Self-approval needs both the namespace and the level to allow it.
 */
export function assertMayDecide(
  policy: Policy,
  grant: Grant,
  who: ApproverContext,
  subject: 'request' | 'extension' = 'request',
): void {
  const ns = namespacePolicyFor(policy.clusters[grant.cluster] as ClusterPolicy, grant.namespace);
  if (!ns || !isApprover(ns, who)) {
    throw forbidden(`You are not an approver for ${grant.namespace} on ${grant.cluster}`, approversHint(ns));
  }
  const level = policy.levels[grant.level];
  if (
    who.slackUserId === grant.requester.slackUserId &&
    !(ns.allowSelfApproval && level?.allowSelfApproval)
  ) {
    throw forbidden(
      subject === 'request' ? 'You cannot approve your own request' : 'You cannot decide your own extension',
      'Another approver has to decide.',
    );
  }
  if (grant.approvals.some((a) => a.slackUserId === who.slackUserId)) {
    throw forbidden(
      subject === 'request' ? 'You already approved this request' : 'You already approved this extension',
      'It needs another approver to reach the quorum.',
    );
  }
}

function approversHint(ns: NamespacePolicy | undefined): string {
  if (!ns) return 'This namespace is no longer in the policy.';
  const names = [
    ...ns.approvers.users.map((u) => `<@${u}>`),
    ...ns.approvers.groups.map((g) => `<!subteam^${g}>`),
  ];
  return `Approvers: ${names.join(', ')}.`;
}

/** The auto-approve rule that covers this request, if any. */
export function autoApproveRuleFor(
  ns: NamespacePolicy,
  request: { level: string; durationSeconds: number; slackUserId: string; memberOfGroups: readonly string[] },
): { rule: AutoApproveRule; index: number } | undefined {
  for (const [index, rule] of ns.autoApprove.entries()) {
    if (!rule.levels.includes(request.level)) continue;
    if (request.durationSeconds > (parseDuration(rule.maxDuration) ?? 0)) continue;
    const who = rule.requesters;
    const role = roleOfRobot(request.slackUserId);
    if (role !== undefined) {
      // A role with no person behind it: only a rule that names it, never an open one.
      if (who?.roles.some((arn) => sameRole(arn, role))) return { rule, index };
      continue;
    }
    if (
      who &&
      !who.users.includes(request.slackUserId) &&
      !who.groups.some((g) => request.memberOfGroups.includes(g))
    ) {
      continue;
    }
    return { rule, index };
  }
  return undefined;
}

/**
 * The worker's re-check before it writes anything for an approved grant: under the policy as it is
 * now, the request is still allowed (cluster, namespace, level, duration) and its approvals still make
 * the quorum — each approver still qualifies (through the same `assertMayDecide` the bot applied on the
 * click, with the groups the bot recorded), nobody counts twice, and self-approval only where the
 * policy allows it; an auto-approval only when its rule still covers the request. Throws forbidden or
 * not_found / bad_input (from resolveRequest) naming what no longer holds.
 */
export function assertApprovalsHold(policy: Policy, grant: Grant): void {
  resolveRequest(policy, {
    cluster: grant.cluster,
    namespace: grant.namespace,
    level: grant.level,
    duration: `${grant.durationSeconds}s`,
    reason: grant.reason,
  });
  const auto = grant.approvals.find((a) => a.autoRule);
  if (auto?.autoRule?.startsWith(BREAK_GLASS_ACTOR)) {
    const rule = breakGlassRuleFor(policy, {
      cluster: grant.cluster,
      namespace: grant.namespace,
      level: grant.level,
      durationSeconds: grant.durationSeconds,
      memberOfGroups: auto.viaGroups ?? [],
    });
    if (!rule || breakGlassActor(rule) !== auto.autoRule) {
      throw forbidden(
        `The break-glass rule that granted ${grant.id} no longer covers it`,
        'Ask an approver instead.',
      );
    }
    return;
  }
  if (auto) {
    const need = approvalNeed(policy, grant, {
      slackUserId: grant.requester.slackUserId,
      memberOfGroups: auto.viaGroups ?? [],
    });
    if (need.auto?.actor !== auto.autoRule) {
      throw forbidden(
        `The auto-approve rule that approved ${grant.id} no longer covers it`,
        'Request access again; an approver has to decide.',
      );
    }
    return;
  }
  const counted: Grant['approvals'] = [];
  for (const approval of grant.approvals) {
    try {
      assertMayDecide(
        policy,
        { ...grant, approvals: counted },
        {
          slackUserId: approval.slackUserId,
          memberOfGroups: approval.viaGroups ?? [],
        },
      );
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw forbidden(
        `The approval of ${grant.id} by <@${approval.slackUserId}> does not hold under the current policy (${why})`,
        'Request access again; a current approver has to decide.',
      );
    }
    counted.push(approval);
  }
  const needed = approvalNeed(policy, grant).approvers;
  if (!quorumReached(counted, needed)) {
    throw forbidden(
      `${grant.id} has ${counted.length} approval(s); the policy now needs ${needed}`,
      'Request access again.',
    );
  }
}
