// The small timed jobs: the expiry warning and the lapse of an undecided request. Each re-reads the
// grant and does nothing when its moment has passed, so stale or duplicate jobs are harmless.
import { type Grant, transition } from '../domain/grant.js';
import { audit, changeGrant, type EngineDeps, notifySafely } from './engine.js';

export async function warnExpiringSoon(deps: EngineDeps, grantId: string): Promise<Grant | undefined> {
  const grant = await deps.store.get(grantId);
  if (grant?.status !== 'active' || grant.expiresAt === undefined) return grant;
  if (grant.warnedForExpiry === grant.expiresAt || grant.expiresAt <= deps.clock.now()) return grant;
  const expiresAt = grant.expiresAt;
  const { grant: warned, changed } = await changeGrant(deps, grantId, (current) =>
    current.status === 'active' && current.expiresAt === expiresAt && current.warnedForExpiry !== expiresAt
      ? transition(current, 'active', { warnedForExpiry: expiresAt })
      : undefined,
  );
  if (changed) await notifySafely(deps, warned, { kind: 'expiring-soon' });
  return warned;
}

export async function lapsePendingRequest(deps: EngineDeps, grantId: string): Promise<Grant | undefined> {
  const grant = await deps.store.get(grantId);
  if (grant?.status !== 'pending' || grant.pendingUntil > deps.clock.now()) return grant;
  const { grant: lapsed, changed } = await changeGrant(deps, grantId, (current) =>
    current.status === 'pending' && current.pendingUntil <= deps.clock.now()
      ? transition(current, 'cancelled', { endedAt: deps.clock.now(), endedBy: 'system' })
      : undefined,
  );
  // The lapse job and the reconciler may both get here: only the writer of `cancelled` announces it.
  if (changed) {
    await audit(deps, lapsed, 'lapsed', 'system');
    await notifySafely(deps, lapsed, { kind: 'cancelled', by: 'system', why: 'lapsed' });
  }
  return lapsed;
}

/** The reminder before an approved window opens: the requester gets the commands they will run. */
export async function remindWindowOpens(deps: EngineDeps, grantId: string): Promise<Grant | undefined> {
  const grant = await deps.store.get(grantId);
  if (grant?.status !== 'approved' || grant.startsAt === undefined || grant.startsAt <= deps.clock.now()) {
    return grant;
  }
  await notifySafely(deps, grant, { kind: 'window-opens-soon' });
  return grant;
}
