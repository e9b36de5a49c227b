// The small timed jobs: the expiry warning, the approvers' reminders and the lapse of an undecided
// request. Each re-reads the grant and does nothing when its moment has passed, so stale or duplicate
// jobs are harmless (and a decision cancels the reminders still queued: they find nothing pending).
import { type Grant, transition } from '../domain/grant.js';
import type { Scheduler } from '../ports/scheduler.js';
import { audit, changeGrant, notifySafely, type RecordDeps } from './grant-records.js';

/**
 * When the approvers of an undecided request are asked again, as fractions of the time it may wait:
 * halfway, then with a quarter left (with the 24 h default: after 12 h and after 18 h).
 */
export const APPROVAL_REMINDERS = [1 / 2, 3 / 4] as const;

/** The moments (epoch ms) of a request's reminders, from when it was made to when it lapses. */
export function approvalReminderTimes(grant: Pick<Grant, 'createdAt' | 'pendingUntil'>): number[] {
  const wait = grant.pendingUntil - grant.createdAt;
  return APPROVAL_REMINDERS.map((f) => grant.createdAt + Math.round(wait * f));
}

/**
 * A decided (or withdrawn) request needs no reminders: drops the ones still queued. Best-effort: a
 * reminder left behind finds nothing pending and does nothing, so a queue hiccup never fails a decision.
 */
export async function dropApprovalReminders(
  deps: { scheduler: Scheduler },
  grant: Pick<Grant, 'id' | 'createdAt' | 'pendingUntil'>,
): Promise<void> {
  await deps.scheduler.cancelApprovalReminders(grant.id, approvalReminderTimes(grant)).catch(() => undefined);
}

export async function warnExpiringSoon(deps: RecordDeps, grantId: string): Promise<Grant | undefined> {
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

/**
 * Asks the approvers again when a reminder is due and not yet sent. Which reminder is due follows
 * from the clock, not from the job, so a late or repeated job sends at most the ones still owed, once
 * each: the count on the grant moves by compare-and-set and only its writer notifies.
 */
export async function remindApprovers(deps: RecordDeps, grantId: string): Promise<Grant | undefined> {
  const dueNow = (g: Grant) => {
    const now = deps.clock.now();
    if (g.status !== 'pending' || g.pendingUntil <= now) return undefined;
    const due = approvalReminderTimes(g).filter((at) => at <= now).length;
    return due > (g.approverReminders ?? 0) ? due : undefined;
  };
  const grant = await deps.store.get(grantId);
  if (!grant || dueNow(grant) === undefined) return grant;
  const { grant: reminded, changed } = await changeGrant(deps, grantId, (current) => {
    const due = dueNow(current);
    return due === undefined ? undefined : transition(current, 'pending', { approverReminders: due });
  });
  if (changed) await notifySafely(deps, reminded, { kind: 'approvers-reminded' });
  return reminded;
}

export async function lapsePendingRequest(deps: RecordDeps, grantId: string): Promise<Grant | undefined> {
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
export async function remindWindowOpens(deps: RecordDeps, grantId: string): Promise<Grant | undefined> {
  const grant = await deps.store.get(grantId);
  if (grant?.status !== 'approved' || grant.startsAt === undefined || grant.startsAt <= deps.clock.now()) {
    return grant;
  }
  await notifySafely(deps, grant, { kind: 'window-opens-soon' });
  return grant;
}

/**
 * The review deadline of a break-glass use: unreviewed, it is re-posted to the approval channel and
 * escalated (once), and the audit trail says so. Reviewed in time: nothing.
 */
export async function breakGlassReviewOverdue(deps: RecordDeps, grantId: string): Promise<Grant | undefined> {
  const grant = await deps.store.get(grantId);
  const use = grant?.breakGlass;
  if (!grant || !use || use.review || use.escalatedAt !== undefined || use.reviewDue > deps.clock.now()) {
    return grant;
  }
  const now = deps.clock.now();
  const { grant: escalated, changed } = await changeGrant(deps, grantId, (current) =>
    current.breakGlass && !current.breakGlass.review && current.breakGlass.escalatedAt === undefined
      ? { ...current, breakGlass: { ...current.breakGlass, escalatedAt: now }, version: current.version + 1 }
      : undefined,
  );
  if (changed) {
    await audit(deps, escalated, 'breakglass-review-overdue', 'system', { rule: use.rule });
    await notifySafely(deps, escalated, { kind: 'break-glass-overdue' });
  }
  return escalated;
}
