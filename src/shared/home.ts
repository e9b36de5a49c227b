// Use case: what one person sees on their App Home and in `list` / `approvals`.

import type { FlowDeps } from '../bot/deps.js';
import { isApprover, mayDecideExtension, namespacePolicyFor } from '../domain/decisions.js';
import type { Grant } from '../domain/grant.js';
import { LIVE_STATUSES } from '../domain/grant.js';

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
  /** Active grants whose waiting extension this person may approve or deny (none when absent). */
  extensionsToDecide?: Grant[];
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
    extensionsToDecide: await extensionsWaitingFor(deps, slackUserId),
  };
}

/** Pending requests this person may approve: an approver, not already approved, not their own (unless allowed). */
export async function waitingFor(
  deps: Pick<FlowDeps, 'store' | 'policy' | 'directory'>,
  slackUserId: string,
): Promise<Grant[]> {
  const pending = await deps.store.listByStatus(['pending']);
  const memberOfGroups = await groupsAmong(deps, slackUserId, pending);
  return pending.filter((g) => {
    const cluster = deps.policy.clusters[g.cluster];
    const ns = cluster ? namespacePolicyFor(cluster, g.namespace) : undefined;
    if (!ns || !isApprover(ns, { slackUserId, memberOfGroups })) return false;
    if (g.approvals.some((a) => a.slackUserId === slackUserId)) return false;
    const self = g.requester.slackUserId === slackUserId;
    return !self || (ns.allowSelfApproval && Boolean(deps.policy.levels[g.level]?.allowSelfApproval));
  });
}

/**
 * Extensions waiting on active grants that this person may decide: by the same rule as the buttons
 * (assertMayDecideExtension), so never the requester (unless self-approval is allowed) nor a bystander.
 */
export async function extensionsWaitingFor(
  deps: Pick<FlowDeps, 'store' | 'policy' | 'directory'>,
  slackUserId: string,
): Promise<Grant[]> {
  const waiting = (await deps.store.listByStatus(['active'])).filter((g) => g.extensionRequest);
  const memberOfGroups = await groupsAmong(deps, slackUserId, waiting);
  return waiting.filter((g) => mayDecideExtension(deps.policy, g, { slackUserId, memberOfGroups }));
}

/** Which of the approver groups of these grants' namespaces the person belongs to (one directory call). */
async function groupsAmong(
  deps: Pick<FlowDeps, 'policy' | 'directory'>,
  slackUserId: string,
  grants: readonly Grant[],
): Promise<string[]> {
  const allGroups = new Set<string>();
  for (const g of grants) {
    const cluster = deps.policy.clusters[g.cluster];
    for (const group of (cluster && namespacePolicyFor(cluster, g.namespace)?.approvers.groups) || [])
      allGroups.add(group);
  }
  return allGroups.size > 0 ? deps.directory.groupsOf(slackUserId, [...allGroups]) : [];
}
