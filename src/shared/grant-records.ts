// The grant record as every process changes it: compare-and-set updates, the audit line and the
// best-effort notification that go with a transition. The bot runs this too, so it depends only on what
// the bot holds (RecordDeps), never on the engine's cluster and IAM clients.

import type { Logger } from '../adapters/logger.js';
import type { Clock } from '../domain/clock.js';
import { conflict, notFound } from '../domain/errors.js';
import type { Grant, GrantStatus } from '../domain/grant.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { GrantStore } from '../ports/grant-store.js';
import type { Notifier } from '../ports/notifier.js';
import type { Scheduler } from '../ports/scheduler.js';

/** What changing a grant record needs: Redis-side ports only, so the bot and the worker can both hold it. */
export interface RecordDeps {
  store: GrantStore;
  audit: AuditLog;
  scheduler: Scheduler;
  notifier: Notifier;
  clock: Clock;
  logger: Logger;
}

export async function requireGrant(deps: Pick<RecordDeps, 'store'>, grantId: string): Promise<Grant> {
  const grant = await deps.store.get(grantId);
  if (!grant) throw notFound(`There is no request ${grantId}`, undefined, { grantId });
  return grant;
}

/**
 * Re-reads and applies `change` until the compare-and-set lands. `change` returns the next record, or
 * undefined to stop (the grant is already where the caller wanted it).
 */
export async function updateGrant(
  deps: Pick<RecordDeps, 'store'>,
  grantId: string,
  change: (current: Grant) => Grant | undefined,
): Promise<Grant> {
  return (await changeGrant(deps, grantId, change)).grant;
}

/**
 * updateGrant that also says whether this call's change landed. A transition's side effects (audit,
 * notification) belong to the caller whose compare-and-set wrote it: comparing versions with an
 * earlier read is not enough, because a concurrent writer (the revoke job and the reconciler ending
 * the same grant) also moves the version, and both would then announce the same end.
 */
export async function changeGrant(
  deps: Pick<RecordDeps, 'store'>,
  grantId: string,
  change: (current: Grant) => Grant | undefined,
): Promise<{ grant: Grant; changed: boolean }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await requireGrant(deps, grantId);
    const next = change(current);
    if (!next) return { grant: current, changed: false };
    if (await deps.store.replace(next)) return { grant: next, changed: true };
  }
  throw conflict(`Request ${grantId} keeps changing; try again`, undefined, { grantId });
}

export const notifySafely = async (
  deps: RecordDeps,
  grant: Grant,
  event: Parameters<Notifier['grantChanged']>[1],
) => {
  try {
    await deps.notifier.grantChanged(grant, event);
  } catch (error) {
    // Chat is best-effort: an outage must not undo or block a grant.
    deps.logger.warn({ err: error, grantId: grant.id, event: event.kind }, 'notification failed');
  }
};

export async function audit(
  deps: Pick<RecordDeps, 'audit' | 'clock'>,
  grant: Grant,
  action: string,
  actor: string,
  details: Record<string, string | number | boolean> = {},
): Promise<void> {
  await deps.audit.append({
    action,
    actor,
    grantId: grant.id,
    at: deps.clock.now(),
    details: {
      cluster: grant.cluster,
      namespace: grant.namespace,
      level: grant.level,
      status: grant.status,
      ...details,
    },
  });
}

export const isLive = (status: GrantStatus) => status === 'approved' || status === 'active';
