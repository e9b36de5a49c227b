// Break-glass rules: which rule, if any, lets a person take access now and have it reviewed after.

import type { BreakGlassRule, Policy } from '../config/policy.js';
import { parseDuration } from './duration.js';
import { namespaceMatches } from './namespace-policy.js';

/** How a break-glass rule appears as the approver of what it granted (`breakglass:<rule name>`). */
export const BREAK_GLASS_ACTOR = 'breakglass:';
export const breakGlassActor = (rule: Pick<BreakGlassRule, 'name'>): string =>
  `${BREAK_GLASS_ACTOR}${rule.name}`;

/**
 * The break-glass rule that lets a member of `memberOfGroups` have this level here for this long, if any.
 * The namespace must also be one the policy offers on the cluster (resolveRequest checks that).
 */
export function breakGlassRuleFor(
  policy: Policy,
  request: {
    cluster: string;
    namespace: string;
    level: string;
    durationSeconds: number;
    memberOfGroups: readonly string[];
  },
): BreakGlassRule | undefined {
  return policy.breakGlass.find(
    (rule) =>
      (!rule.clusters || rule.clusters.includes(request.cluster)) &&
      rule.namespaces.some((pattern) => namespaceMatches(pattern, request.namespace)) &&
      rule.levels.includes(request.level) &&
      request.durationSeconds <= (parseDuration(rule.maxDuration) ?? 0) &&
      rule.groups.some((g) => request.memberOfGroups.includes(g)),
  );
}
