// Ending a grant early (revoked by an approver or the CLI, relinquished by its holder): the state
// moves to `revoking` at once, so the person sees it end; the revoke job does the clean-up.
import { conflict } from '../domain/errors.js';
import { type EndReason, type Grant, transition } from '../domain/grant.js';
import { audit, changeGrant, type RecordDeps } from './grant-records.js';

/** Needs Redis and the queue only, so the Slack-facing bot (which holds no cluster client) can call it. */
export type EndGrantDeps = Pick<RecordDeps, 'store' | 'scheduler' | 'audit' | 'clock'>;

export async function endGrant(
  deps: EndGrantDeps,
  grantId: string,
  reason: EndReason,
  actor: string,
  /** Why, in the words of whoever ended it (an approver's Revoke reason); shown to the holder. */
  note?: string,
): Promise<Grant> {
  const { grant, changed } = await changeGrant(deps, grantId, (current) => {
    if (current.status === 'revoking' || current.endedAt !== undefined || isEnded(current)) return undefined;
    if (current.status !== 'active' && current.status !== 'approved') {
      throw conflict(`Request ${grantId} is ${current.status}; there is no access to end`, undefined, {
        grantId,
      });
    }
    return transition(current, 'revoking', {
      endReason: reason,
      endedBy: actor,
      ...(note ? { endNote: note } : {}),
    });
  });
  if (changed || grant.status === 'revoking') {
    // Scheduling again for a grant already revoking is harmless and un-sticks a lost job.
    await deps.scheduler.scheduleRevocation(grantId);
  }
  // Two approvers ending it at once: one `ending` entry, by whoever moved it to `revoking`.
  if (changed) {
    await audit(deps, grant, 'ending', actor, { endReason: reason, ...(note ? { reason: note } : {}) });
  }
  return grant;
}

const isEnded = (g: Grant) => g.status === 'expired' || g.status === 'revoked' || g.status === 'relinquished';
