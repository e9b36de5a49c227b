// Extending an active grant moves its expiry and everything that depends on it: the RoleBinding's
// expires-at annotation, the trust policy's time condition, the revoke job and the warning.
import { isoTime } from '../domain/clock.js';
import { decideExtension } from '../domain/decisions.js';
import { badInput, conflict, forbidden } from '../domain/errors.js';
import { type Grant, transition } from '../domain/grant.js';
import { planGrant } from '../domain/plan.js';
import { verifyDecisionSeal } from '../domain/seal.js';
import type { ClusterBackends } from '../ports/cluster.js';
import { scheduleExpiry } from './activate.js';
import {
  audit,
  type EngineDeps,
  liveSealedBindings,
  notifySafely,
  requireGrant,
  sealedRoleBinding,
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
  const backends = await deps.clusters.forCluster(grant.cluster);
  // A prolonging write re-checks like an activation: the grant is one approvers decided, the policy
  // still allows this extension, and the base is the expiry the worker sealed on the cluster (not a
  // number in Redis, which anyone with Redis write could raise).
  const base = await sealedExpiry(deps, backends, grant, seconds, auto);
  const expiresAt = base + seconds * 1000;
  // Cluster first: if we stopped between the two, a later expiry on the cluster than in Redis only
  // delays the reconciler's clean-up; the reverse would let the reconciler end a grant too early.
  const person = traceOf(grant, deps);
  await writeExpiry(deps, backends, grant, person, expiresAt);

  const extended = await updateGrant(deps, grantId, (current) => {
    assertExtendable(current, deps.clock.now());
    // The pending request (if any) is answered and the warning is due again for the new expiry.
    const { extensionRequest: _answered, warnedForExpiry: _warned, ...rest } = current;
    return transition(rest, 'active', {
      expiresAt: (current.expiresAt as number) + seconds * 1000,
      extensions: [...current.extensions, { by: actor, seconds, at: deps.clock.now(), auto }],
    });
  });
  // Two extensions racing: the second landed on a later base; make the cluster agree with Redis, but
  // never beyond what the extensions recorded since we read the grant add to the sealed base.
  const racing = extended.extensions.slice(grant.extensions.length).reduce((sum, e) => sum + e.seconds, 0);
  const agreed = Math.min(extended.expiresAt as number, base + racing * 1000);
  if (agreed !== expiresAt) await writeExpiry(deps, backends, extended, person, agreed);
  await scheduleExpiry(deps, extended);
  await audit(deps, extended, 'extended', actor, {
    seconds,
    auto,
    expiresAt: isoTime(extended.expiresAt ?? 0),
  });
  await notifySafely(deps, extended, { kind: 'extended', by: actor, seconds });
  return extended;
}

/** The grant's own sealed RoleBinding's expiry, once the decision seal and the policy say yes. */
async function sealedExpiry(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  seconds: number,
  auto: boolean,
): Promise<number> {
  if (verifyDecisionSeal(deps.seal, grant, grant.decisionSeal) !== 'valid') {
    await audit(deps, grant, 'forged-grant', 'system', { during: 'extension' });
    throw forbidden(`Request ${grant.id} was not approved through eks-access; it cannot be extended`);
  }
  const decision = decideExtension(deps.policy, grant, seconds);
  if (decision.kind === 'refused') throw badInput('That extension is not possible', decision.why);
  if (auto && decision.kind !== 'auto') {
    throw forbidden(
      `An extension of ${grant.level} needs an approver`,
      'Ask with `extend`; an approver decides.',
    );
  }
  const mine = (await liveSealedBindings(deps, backends, traceOf(grant, deps))).find(
    (b) => b.grantId === grant.id && b.namespace === grant.namespace,
  );
  if (!mine) {
    throw conflict(
      `The access of ${grant.id} is no longer on ${grant.cluster}`,
      'It is being removed; request access again.',
      { grantId: grant.id },
    );
  }
  return mine.expiresAt;
}

async function writeExpiry(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  person: ReturnType<typeof traceOf>,
  expiresAt: number,
): Promise<void> {
  const plan = planGrant({ policy: deps.policy, grant, expiresAt });
  await backends.rbac.applyRoleBinding(sealedRoleBinding(deps, plan));
  await withIdentityLock(deps, person, () => syncIdentity(deps, backends, person, { mode: 'grant' }));
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
