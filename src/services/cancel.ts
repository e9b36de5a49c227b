// Use cases that stop a request or a grant early: the requester withdraws a pending request, the
// requester gives access back ("done"), an approver revokes it. (Lapsing is the engine's reminder job.)
import { isApprover, namespacePolicyFor } from '../domain/decisions.js';
import { conflict, forbidden } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { transition } from '../domain/grant.js';
import { approverGroupsOf } from './decide.js';
import { type FlowDeps, mustGet, updateGrant } from './deps.js';

/** The requester withdraws a request nobody has decided yet. */
export async function cancelRequest(deps: FlowDeps, grantId: string, who: string): Promise<Grant> {
  const now = deps.clock.now();
  const after = await updateGrant(deps, grantId, (current) => {
    if (current.requester.slackUserId !== who) {
      throw forbidden('Only the requester can cancel a request', 'Approvers can Deny it instead.');
    }
    if (current.status !== 'pending') {
      throw conflict(
        `Request ${grantId} is already ${current.status}`,
        'Use `done` to give back access you have.',
      );
    }
    return transition(current, 'cancelled', { endedAt: now, endedBy: who });
  });
  await deps.audit.append({
    action: 'cancelled',
    actor: who,
    grantId,
    at: now,
    details: { cluster: after.cluster, namespace: after.namespace, level: after.level, to: 'cancelled' },
  });
  await deps.notifier.grantChanged(after, { kind: 'cancelled', by: who, why: 'withdrawn by the requester' });
  return after;
}

/** `done` (the requester gives access back) or `revoke` (an approver of the namespace ends it). */
export async function endAccess(
  deps: FlowDeps,
  grantId: string,
  who: string,
  how: 'done' | 'revoke',
): Promise<Grant> {
  const grant = await mustGet(deps.store, grantId);
  const isRequester = grant.requester.slackUserId === who;
  if (how === 'done' && !isRequester) {
    throw forbidden('Only the person who has the access can give it back', 'Approvers use `revoke <id>`.');
  }
  if (how === 'revoke' && !isRequester) {
    const cluster = deps.policy.clusters[grant.cluster];
    const ns = cluster ? namespacePolicyFor(cluster, grant.namespace) : undefined;
    const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, grant, who);
    if (!ns || !isApprover(ns, { slackUserId: who, memberOfGroups })) {
      throw forbidden(
        `You are not an approver for ${grant.namespace} on ${grant.cluster}`,
        'Only approvers can revoke.',
      );
    }
  }
  if (grant.status === 'pending') {
    throw conflict(`Request ${grantId} is still waiting for approval`, 'Use `cancel` to withdraw it.');
  }
  if (grant.status !== 'active' && grant.status !== 'approved') {
    throw conflict(`Request ${grantId} is already ${grant.status}`);
  }
  // The requester's own `revoke` is the same as `done`: the trail should say they gave it back.
  return deps.engine.endGrant(grantId, how === 'done' || isRequester ? 'relinquished' : 'revoked', who);
}
