// Use case: what one person sees on their App Home and in `list` / `approvals`.
import { isApprover, namespacePolicyFor } from '../domain/decisions.js';
import type { Grant } from '../domain/grant.js';
import { LIVE_STATUSES } from '../domain/grant.js';
import type { FlowDeps } from './deps.js';

export interface HomeModel {
  now: number;
  /** Approved, active or ending grants of this person. */
  live: Grant[];
  /** This person's requests still waiting. */
  pending: Grant[];
  /** Recently finished, for context (denied, expired, …). */
  recent: Grant[];
  /** Requests this person may decide now. */
  toApprove: Grant[];
}

export async function homeFor(
  deps: Pick<FlowDeps, 'store' | 'policy' | 'directory' | 'clock'>,
  slackUserId: string,
): Promise<HomeModel> {
  const mine = await deps.store.listByRequester(slackUserId, 50);
  return {
    now: deps.clock.now(),
    live: mine.filter((g) => LIVE_STATUSES.has(g.status)),
    pending: mine.filter((g) => g.status === 'pending'),
    recent: mine.filter((g) => !LIVE_STATUSES.has(g.status) && g.status !== 'pending').slice(0, 5),
    toApprove: await waitingFor(deps, slackUserId),
  };
}

/** Pending requests this person may approve: an approver, not already approved, not their own (unless allowed). */
export async function waitingFor(
  deps: Pick<FlowDeps, 'store' | 'policy' | 'directory'>,
  slackUserId: string,
): Promise<Grant[]> {
  const pending = await deps.store.listByStatus(['pending']);
  const allGroups = new Set<string>();
  for (const g of pending) {
    const cluster = deps.policy.clusters[g.cluster];
    for (const group of (cluster && namespacePolicyFor(cluster, g.namespace)?.approvers.groups) || [])
      allGroups.add(group);
  }
  const memberOfGroups = allGroups.size > 0 ? await deps.directory.groupsOf(slackUserId, [...allGroups]) : [];
  return pending.filter((g) => {
    const cluster = deps.policy.clusters[g.cluster];
    const ns = cluster ? namespacePolicyFor(cluster, g.namespace) : undefined;
    if (!ns || !isApprover(ns, { slackUserId, memberOfGroups })) return false;
    if (g.approvals.some((a) => a.slackUserId === slackUserId)) return false;
    const self = g.requester.slackUserId === slackUserId;
    return !self || (ns.allowSelfApproval && Boolean(deps.policy.levels[g.level]?.allowSelfApproval));
  });
}
