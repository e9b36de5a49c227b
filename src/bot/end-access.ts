// Ending access early from Slack: the holder gives it back (`done`, "I'm done") or an approver of the
// namespace takes it away (`revoke`, the Revoke button). Both move the grant to `revoking`; the
// worker's revoke job removes the access (shared/end-grant.ts).
import { isApprover, namespacePolicyOf } from '../domain/decisions.js';
import { conflict, forbidden } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { approverGroupsOf } from './decide.js';
import { type FlowDeps, mustGet } from './deps.js';

/**
 * Throws unless `who` may end this grant this way: `done` only its holder, `revoke` its holder or an
 * approver of the namespace. The Revoke form asks this before it takes a reason, and again on submit.
 */
export async function assertMayEnd(
  deps: Pick<FlowDeps, 'policy' | 'directory'>,
  grant: Grant,
  who: string,
  how: 'done' | 'revoke',
): Promise<void> {
  const isRequester = grant.requester.slackUserId === who;
  if (how === 'done' && !isRequester) {
    throw forbidden('Only the person who has the access can give it back', 'Approvers use `revoke <id>`.');
  }
  if (how === 'revoke' && !isRequester) {
    const ns = namespacePolicyOf(deps.policy, grant);
    const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, grant, who);
    if (!ns || !isApprover(ns, { slackUserId: who, memberOfGroups })) {
      throw forbidden(
        `You are not an approver for ${grant.namespace} on ${grant.cluster}`,
        'Only approvers can revoke.',
      );
    }
  }
  if (grant.status === 'pending') {
    throw conflict(`Request ${grant.id} is still waiting for approval`, 'Use `cancel` to withdraw it.');
  }
  if (grant.status !== 'active' && grant.status !== 'approved') {
    throw conflict(`Request ${grant.id} is already ${grant.status}`);
  }
}

/**
 * `done` (the requester gives access back) or `revoke` (an approver of the namespace ends it, with
 * `note` saying why: the holder is told).
 */
export async function endAccess(
  deps: FlowDeps,
  grantId: string,
  who: string,
  how: 'done' | 'revoke',
  note?: string,
): Promise<Grant> {
  const grant = await mustGet(deps.store, grantId);
  await assertMayEnd(deps, grant, who, how);
  const isRequester = grant.requester.slackUserId === who;
  // The requester's own `revoke` is the same as `done`: the trail should say they gave it back.
  return isRequester || how === 'done'
    ? deps.engine.endGrant(grantId, 'relinquished', who)
    : deps.engine.endGrant(grantId, 'revoked', who, note?.trim() || undefined);
}
