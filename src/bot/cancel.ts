// The requester withdraws a request nobody has decided yet. (Ending granted access early is
// end-access.ts; a request nobody decided in time lapses in reminders.ts.)
import { conflict, forbidden } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { transition } from '../domain/grant.js';
import { dropApprovalReminders } from '../shared/reminders.js';
import { type FlowDeps, updateGrant } from './deps.js';

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
  await dropApprovalReminders(deps, after);
  await deps.notifier.grantChanged(after, { kind: 'cancelled', by: who, why: 'withdrawn by the requester' });
  return after;
}
