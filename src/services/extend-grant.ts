// Extending an active grant moves its expiry and everything that depends on it: the RoleBinding's
// expires-at annotation, the trust policy's time condition, the revoke job and the warning.
import { isoTime } from '../domain/clock.js';
import { badInput, conflict } from '../domain/errors.js';
import { type Grant, transition } from '../domain/grant.js';
import { planGrant } from '../domain/plan.js';
import { scheduleExpiry } from './activate.js';
import {
  audit,
  type EngineDeps,
  notifySafely,
  requireGrant,
  syncIdentity,
  updateGrant,
  withIdentityLock,
} from './engine.js';
import { traceOf } from './revoke.js';

export async function applyExtension(
  deps: EngineDeps,
  grantId: string,
  seconds: number,
  actor: string,
  auto: boolean,
): Promise<Grant> {
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw badInput(`An extension of ${seconds}s is not possible`);
  const grant = await requireGrant(deps, grantId);
  assertExtendable(grant, deps.clock.now());
  const expiresAt = (grant.expiresAt as number) + seconds * 1000;
  // Cluster first: if we stopped between the two, a later expiry on the cluster than in Redis only
  // delays the reconciler's clean-up; the reverse would let the reconciler end a grant too early.
  const backends = await deps.clusters.forCluster(grant.cluster);
  await backends.rbac.applyRoleBinding(planGrant({ policy: deps.policy, grant, expiresAt }).roleBinding);
  const person = traceOf(grant, deps);
  await withIdentityLock(deps, person, () => syncIdentity(deps, backends, person));

  const extended = await updateGrant(deps, grantId, (current) => {
    assertExtendable(current, deps.clock.now());
    // The pending request (if any) is answered and the warning is due again for the new expiry.
    const { extensionRequest: _answered, warnedForExpiry: _warned, ...rest } = current;
    return transition(rest, 'active', {
      expiresAt: (current.expiresAt as number) + seconds * 1000,
      extensions: [...current.extensions, { by: actor, seconds, at: deps.clock.now(), auto }],
    });
  });
  // Two extensions racing: the second landed on a later base; make the cluster agree with Redis.
  if (extended.expiresAt !== expiresAt) {
    await backends.rbac.applyRoleBinding(
      planGrant({ policy: deps.policy, grant: extended, expiresAt: extended.expiresAt as number })
        .roleBinding,
    );
    await withIdentityLock(deps, person, () => syncIdentity(deps, backends, person));
  }
  await scheduleExpiry(deps, extended);
  await audit(deps, extended, 'extended', actor, {
    seconds,
    auto,
    expiresAt: isoTime(extended.expiresAt ?? 0),
  });
  await notifySafely(deps, extended, { kind: 'extended', by: actor, seconds });
  return extended;
}

function assertExtendable(grant: Grant, now: number): void {
  if (grant.status !== 'active' || grant.expiresAt === undefined) {
    throw conflict(`Request ${grant.id} is ${grant.status}; only active access can be extended`, undefined, {
      grantId: grant.id,
    });
  }
  if (grant.expiresAt <= now) {
    throw conflict(`Request ${grant.id} has already expired`, 'Request access again instead.', {
      grantId: grant.id,
    });
  }
}
