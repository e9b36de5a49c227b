// What follows an approval, the same whether people or a policy rule approved: the activation job, now
// or at a window's start, and for a window the reminder that brings the requester the commands ahead.
import type { Policy } from '../config/policy.js';
import type { Clock } from '../domain/clock.js';
import { parseDuration } from '../domain/duration.js';
import { type Grant, setupDueAt } from '../domain/grant.js';
import type { Notifier } from '../ports/notifier.js';
import type { Scheduler } from '../ports/scheduler.js';

export async function queueApproved(
  deps: { scheduler: Scheduler; policy: Policy; clock: Clock; notifier: Notifier },
  grant: Grant,
): Promise<void> {
  await deps.scheduler.enqueueActivation(grant.id, grant.startsAt);
  // Past the deadline, requester and approvers are told setup takes longer than expected. Delivered by
  // the Slack outbox, which the bot consumes too: a dead worker does not silence it.
  const due = setupDueAt(grant, (parseDuration(deps.policy.settings.setupDeadline) ?? 300) * 1000);
  if (due !== undefined) await deps.notifier.grantCheckLater?.(grant, { kind: 'setup-overdue' }, due);
  if (grant.startsAt === undefined) return;
  const remindAt = grant.startsAt - (parseDuration(deps.policy.settings.windows.reminder) ?? 0) * 1000;
  if (remindAt > deps.clock.now()) await deps.scheduler.scheduleWindowReminder(grant.id, remindAt);
}
