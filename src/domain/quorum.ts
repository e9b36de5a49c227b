// Can each namespace's quorum be met by the people who can actually click Approve? The one check for
// "this request could never be approved": a quorum larger than the approver list, five approvals
// asked of a group of two, or approvers who have left the workspace (deactivated in Slack). `doctor`
// runs it against the live workspace, the sandbox against its own people; both give it the active
// approvers they found, so this stays pure.
import { type NamespacePolicy, type Policy, requiredApprovalsFor } from '../config/policy.js';

/** A namespace and level whose quorum its active approvers cannot reach. */
export interface QuorumShortfall {
  cluster: string;
  namespace: string;
  level: string;
  /** Distinct approvals the level needs there. */
  needed: number;
  /** Distinct active people who may approve (named users and members of the named groups). */
  active: number;
}

/**
 * Every namespace × offered level whose needed approvals exceed its distinct active approvers.
 * `activeApprovers(ns)` answers who may approve there and is still in the workspace (the caller
 * resolves groups and drops deactivated people).
 */
export function quorumShortfalls(
  policy: Policy,
  activeApprovers: (ns: NamespacePolicy, cluster: string) => readonly string[],
): QuorumShortfall[] {
  const shortfalls: QuorumShortfall[] = [];
  for (const [cluster, clusterPolicy] of Object.entries(policy.clusters)) {
    for (const ns of clusterPolicy.namespaces) {
      const active = new Set(activeApprovers(ns, cluster)).size;
      for (const level of ns.levels) {
        const lvl = policy.levels[level];
        if (!lvl) continue;
        const needed = requiredApprovalsFor(lvl, ns);
        if (needed > active) shortfalls.push({ cluster, namespace: ns.name, level, needed, active });
      }
    }
  }
  return shortfalls;
}

/** One line per shortfall, for doctor and the sandbox's notes. */
export function describeShortfall(s: QuorumShortfall): string {
  return `${s.namespace} on ${s.cluster}, level ${s.level}: needs ${s.needed} approval(s), only ${s.active} active approver(s) can give them`;
}
