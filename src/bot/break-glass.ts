// Use cases: break-glass. An on-call engineer at 3 a.m. grants themselves access at once when a policy
// rule allows it (who: members of the rule's Slack groups, read now; where; which level; how long; how
// often), and it is loud: the approval channel, the audit channel and a DM to every approver. Every use
// then needs a review: an approver acknowledges it, or flags it, which revokes it at once if it is still
// live. A review left undone past the rule's deadline is re-posted and escalated.
import type { BreakGlassRule } from '../config/policy.js';
import {
  breakGlassActor,
  breakGlassRuleFor,
  isApprover,
  namespacePolicyOf,
  resolveRequest,
} from '../domain/decisions.js';
import { formatDuration, parseDuration } from '../domain/duration.js';
import { badInput, conflict, forbidden, notFound } from '../domain/errors.js';
import { type BreakGlassReview, type Grant, LIVE_STATUSES } from '../domain/grant.js';
import { approverGroupsOf } from './decide.js';
import { type FlowDeps, mustGet, updateGrant } from './deps.js';
import { prepare, record, type SubmitResult } from './submit.js';

export interface BreakGlassInput {
  namespace: string;
  cluster?: string | undefined;
  level?: string | undefined;
  duration?: string | undefined;
  /** The incident: required, recorded as the grant's reason. */
  incident: string;
}

export async function breakGlass(
  deps: FlowDeps,
  slackUserId: string,
  input: BreakGlassInput,
): Promise<SubmitResult> {
  const { policy, clock } = deps;
  if (policy.breakGlass.length === 0) {
    throw notFound('Break-glass is not set up here', 'Ask for access with `request`; an approver decides.');
  }
  const incident = input.incident.trim();
  if (incident === '') {
    throw badInput(
      'Break-glass needs the incident',
      'Write `breakglass <namespace> because INC-123 what is on fire`.',
    );
  }
  const now = clock.now();
  const resolved = resolveRequest(policy, { ...input, reason: incident }, now);
  const groups = [...new Set(policy.breakGlass.flatMap((r) => r.groups))];
  const memberOf = await deps.directory.groupsOf(slackUserId, groups);
  const rule = breakGlassRuleFor(policy, { ...resolved, memberOfGroups: memberOf });
  if (!rule) throw noRule(policy.breakGlass, resolved, memberOf);
  // The limits are counted from the audit trail, so the count and the new use's audit entry must not
  // interleave with another use of the same rule (two bots, or a double submit): one rule, one holder.
  const result = await deps.locks.withLock(
    `breakglass:${rule.name}`,
    async () => {
      await assertWithinLimits(deps, rule, slackUserId, now);
      const prepared = await prepare(
        deps,
        slackUserId,
        { ...input, reason: incident },
        {
          actor: breakGlassActor(rule),
          viaGroups: rule.groups.filter((g) => memberOf.includes(g)),
          breakGlass: {
            rule: rule.name,
            incident,
            reviewDue: now + (parseDuration(rule.reviewWithin) ?? 86_400) * 1000,
          },
        },
      );
      return record(deps, slackUserId, prepared);
    },
    { waitMs: 20_000 },
  );
  const grant = result.grant;
  // Loud: every approver of the namespace hears of it directly, not only through the channels.
  await deps.notifier.grantChanged(grant, { kind: 'break-glass-used', by: slackUserId });
  await deps.scheduler.scheduleBreakGlassReview(grant.id, grant.breakGlass?.reviewDue ?? now);
  return result;
}

/** Why no rule applies, naming the rules that cover this namespace and what they need. */
function noRule(
  rules: readonly BreakGlassRule[],
  request: { cluster: string; namespace: string; level: string; durationSeconds: number },
  memberOf: readonly string[],
): Error {
  const hint = rules
    .map(
      (r) =>
        `\`${r.name}\`: members of ${r.groups.map((g) => `<!subteam^${g}>`).join(', ')}, ${r.levels.join('/')} for at most ${r.maxDuration} in ${r.namespaces.join(', ')}${r.clusters ? ` on ${r.clusters.join(', ')}` : ''}`,
    )
    .join('; ');
  return forbidden(
    `No break-glass rule lets you have ${request.level} in ${request.namespace} on ${request.cluster} for ${formatDuration(request.durationSeconds)}${memberOf.length === 0 ? ' (you are in none of its groups)' : ''}`,
    `Rules: ${hint}. Otherwise ask with \`request\`.`,
  );
}

/**
 * Uses counted per person and per rule from the audit log's dedicated counts (every use in the window,
 * however many other events it holds; after Redis lost its data the worker restores them from the
 * archive's index).
 */
async function assertWithinLimits(
  deps: FlowDeps,
  rule: BreakGlassRule,
  who: string,
  now: number,
): Promise<void> {
  const limits = [
    { limit: rule.perPerson, mine: true },
    ...(rule.perRule ? [{ limit: rule.perRule, mine: false }] : []),
  ];
  for (const { limit, mine } of limits) {
    const since = now - (parseDuration(limit.per) ?? 0) * 1000;
    const uses = await deps.audit.countBreakGlassUses(rule.name, since, mine ? who : undefined);
    if (uses >= limit.count) {
      throw forbidden(
        `Break-glass rule \`${rule.name}\` was used ${uses} time(s) in the last ${limit.per}${mine ? ' by you' : ''}; it allows ${limit.count}`,
        'Ask an approver with `request`, or page them.',
      );
    }
  }
}

/**
 * An approver reviews a break-glass use: `acknowledged`, or `flagged` with why, which revokes it at once
 * if it is still live. Only approvers of the namespace, never the person who used it; once per use.
 */
export async function reviewBreakGlass(
  deps: FlowDeps,
  grantId: string,
  who: string,
  verdict: BreakGlassReview['verdict'],
  why?: string,
): Promise<Grant> {
  const first = await mustGet(deps.store, grantId);
  if (!first.breakGlass)
    throw badInput(`${grantId} was not a break-glass grant`, 'Only break-glass uses are reviewed.');
  if (first.requester.slackUserId === who) {
    throw forbidden(
      'You cannot review your own break-glass use',
      'Another approver of the namespace has to.',
    );
  }
  const ns = namespacePolicyOf(deps.policy, first);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, first, who);
  if (!ns || !isApprover(ns, { slackUserId: who, memberOfGroups })) {
    throw forbidden(
      `You are not an approver for ${first.namespace} on ${first.cluster}`,
      'Only approvers review break-glass uses.',
    );
  }
  if (verdict === 'flagged' && !why?.trim())
    throw badInput('Say why you flag it', 'The reason is recorded in the audit trail.');
  const now = deps.clock.now();
  const review: BreakGlassReview = { verdict, by: who, at: now, ...(why?.trim() ? { why: why.trim() } : {}) };
  const reviewed = await updateGrant(deps, grantId, (current) => {
    if (!current.breakGlass) return undefined;
    if (current.breakGlass.review) {
      throw conflict(
        `${grantId} was already ${current.breakGlass.review.verdict} by <@${current.breakGlass.review.by}>`,
        undefined,
        { grantId },
      );
    }
    return { ...current, breakGlass: { ...current.breakGlass, review }, version: current.version + 1 };
  });
  await deps.audit.append({
    action: `breakglass-${verdict}`,
    actor: who,
    grantId,
    at: now,
    details: {
      cluster: reviewed.cluster,
      namespace: reviewed.namespace,
      rule: reviewed.breakGlass?.rule ?? '',
      ...(review.why ? { why: review.why } : {}),
    },
  });
  await deps.notifier.grantChanged(reviewed, { kind: 'break-glass-reviewed', by: who, verdict });
  if (verdict === 'flagged' && LIVE_STATUSES.has(reviewed.status) && reviewed.status !== 'revoking') {
    return deps.engine.endGrant(grantId, 'revoked', who);
  }
  return reviewed;
}
