// Ending a grant early (revoked by an approver or the CLI, relinquished by its holder): the state
// moves to `revoking` at once, so the person sees it end; the revoke job does the clean-up.
import { conflict } from '../domain/errors.js';
import { type EndReason, type Grant, transition } from '../domain/grant.js';
import { audit, type EngineDeps, requireGrant, updateGrant } from './engine.js';

/** Needs Redis and the queue only, so the Slack-facing bot (which holds no cluster client) can call it. */
export type EndGrantDeps = Pick<EngineDeps, 'store' | 'scheduler' | 'audit' | 'clock'>;

export async function endGrant(
  deps: EndGrantDeps,
  grantId: string,
  reason: EndReason,
  actor: string,
): Promise<Grant> {
  const before = await requireGrant(deps, grantId);
  const grant = await updateGrant(deps, grantId, (current) => {
    if (current.status === 'revoking' || current.endedAt !== undefined || isEnded(current)) return undefined;
    if (current.status !== 'active' && current.status !== 'approved') {
      throw conflict(`Request ${grantId} is ${current.status}; there is no access to end`, undefined, {
        grantId,
      });
    }
    return transition(current, 'revoking', { endReason: reason, endedBy: actor });
  });
  if (grant.version !== before.version || grant.status === 'revoking') {
    // Scheduling again for a grant already revoking is harmless and un-sticks a lost job.
    await deps.scheduler.scheduleRevocation(grantId);
  }
  if (grant.status === 'revoking' && grant.version !== before.version) {
    await audit(deps, grant, 'ending', actor, { endReason: reason });
  }
  return grant;
}

const isEnded = (g: Grant) => g.status === 'expired' || g.status === 'revoked' || g.status === 'relinquished';
