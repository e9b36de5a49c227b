// The worker's `extend` job: applies one claimed extension (Grant.extensionsApplying, written by the
// Slack flow under compare-and-set with the cap checked there) to the cluster, then records it. The
// expiry moves everywhere that depends on it: the RoleBinding's expires-at annotation, the trust
// policy's time condition, the revoke job and the warning. Nothing here decides whether an extension
// is allowed; it only carries out a claim an approval (or the level's auto rule) made, once it has
// checked the claim is one (the bot's seal on the claim and on the grant's approval, and under the policy
// as it is now: the level's extend mode and cap, and each approver of the extension) and starts from the
// expiry the worker sealed on the cluster, never from a number in Redis alone. Each claim is spent once in
// the ledger before anything moves, and no claim moves the end past the latest end the sealed activation
// allows (engine/ledger.ts).
import { isoTime } from '../domain/clock.js';
import { extensionClaimRefusal } from '../domain/decisions.js';
import { parseDuration } from '../domain/duration.js';
import { type AccessError, toAccessError } from '../domain/errors.js';
import { type ClaimedExtension, type Grant, transition } from '../domain/grant.js';
import { latestEnd } from '../domain/ledger.js';
import { planGrant } from '../domain/plan.js';
import { verifyDecisionSeal, verifyExtensionSeal } from '../domain/seal.js';
import { humanTime } from '../domain/text.js';
import type { ClusterBackends } from '../ports/cluster.js';
import { audit, notifySafely, requireGrant, updateGrant } from '../shared/grant-records.js';
import { extendPolicyGrant, sealedTagExpiry } from './access-policy-grants.js';
import { scheduleExpiry } from './activate.js';
import type { EngineDeps } from './deps.js';
import { syncIdentity, withIdentityLock } from './identity-sync.js';
import { activationOf, spendExtension, spentExtension } from './ledger.js';
import { traceOf } from './revoke.js';
import { liveSealedBindings, sealedRoleBinding } from './sealed-bindings.js';

export const extensionLockKey = (grantId: string) => `extend:${grantId}`;

/**
 * Applies the claimed extension `extensionId` of `grantId`. Idempotent: a claim already applied (or
 * dropped) is a no-op. A grant no longer active drops the claim and reports it. Transient errors are
 * thrown for the queue to retry; `failExtension` reports the rest.
 */
export async function applyExtension(deps: EngineDeps, grantId: string, extensionId: string): Promise<Grant> {
  // One extension of a grant at a time: each computes its expiry from the one recorded before it.
  return deps.locks.withLock(
    extensionLockKey(grantId),
    async () => {
      const grant = await requireGrant(deps, grantId);
      const claim = claimOf(grant, extensionId);
      if (!claim) return grant;
      const now = deps.clock.now();
      if (grant.status !== 'active' || grant.expiresAt === undefined || grant.expiresAt <= now) {
        return dropClaim(deps, grantId, extensionId, `the access is ${grant.status}, no longer active`);
      }
      const backends = await deps.clusters.forCluster(grant.cluster);
      const person = traceOf(grant, deps);
      // A record rebuilt from the cluster after Redis lost its data can only end (domain/rebuilt-grant.ts).
      if (grant.rebuilt)
        return dropClaim(deps, grantId, extensionId, `${grant.id} was rebuilt: it can only end`);
      const refused = await refusal(deps, grant, claim);
      if (refused) return dropClaim(deps, grantId, extensionId, refused);
      const sealed = await sealedExpiry(deps, backends, grant);
      if (sealed === undefined) {
        return dropClaim(
          deps,
          grantId,
          extensionId,
          `the access of ${grant.id} is no longer on ${grant.cluster}`,
        );
      }
      // The cap comes from sealed facts only: the activation's recorded end and the level's maxTotal.
      const activation = await activationOf(deps, grant, sealed);
      if (!activation) {
        return dropClaim(
          deps,
          grantId,
          extensionId,
          `the activation record of ${grant.id} cannot be trusted`,
        );
      }
      const cap = latestEnd(activation, grant, maxTotalSeconds(deps, grant));
      // Spent before (a retry, a replay with `extensions` cleared, a re-queue): it gets the end recorded
      // the first time and moves nothing past it.
      const earlier = await spentExtension(deps, grant, extensionId);
      if (earlier === 'untrusted') {
        return dropClaim(deps, grantId, extensionId, `the ledger record of ${extensionId} cannot be trusted`);
      }
      // Redis could say later than the cluster (written by something else): the lower one counts.
      const proposed = Math.min(grant.expiresAt, sealed) + claim.seconds * 1000;
      if (!earlier && proposed > cap) {
        return dropClaim(
          deps,
          grantId,
          extensionId,
          `it would end at ${humanTime(proposed)}, past ${humanTime(cap)}, the latest ${grant.level} allows for this approval`,
        );
      }
      // Spent before anything moves.
      const spent = earlier
        ? { spent: 'before' as const, record: earlier }
        : await spendExtension(deps, grant, claim, proposed);
      if (!spent) {
        return dropClaim(deps, grantId, extensionId, `the ledger record of ${extensionId} cannot be trusted`);
      }
      const target = Math.min(spent.record.expiresAt, cap);
      // Cluster first: if we stopped between the two, a later expiry on the cluster than in Redis only
      // delays the reconciler's clean-up; the reverse would let the reconciler end a grant too early.
      if (sealed < target) await writeExpiry(deps, backends, grant, person, target);
      const onCluster = Math.max(sealed, target);

      let recorded = false;
      let moved = false;
      const extended = await updateGrant(deps, grantId, (current) => {
        const still = claimOf(current, extensionId);
        recorded = still !== undefined && current.status === 'active' && current.expiresAt !== undefined;
        if (!still || !recorded) return undefined;
        moved = (current.expiresAt as number) < onCluster;
        // The pending request (if any) is answered and the warning is due again for the new expiry.
        const { warnedForExpiry: _warned, ...rest } = current;
        const known = current.extensions.some((e) => e.id === still.id);
        return transition(rest, 'active', {
          // What the cluster carries, never a sum of Redis's own numbers.
          expiresAt: onCluster,
          extensions: known
            ? current.extensions
            : [
                ...current.extensions,
                { id: still.id, by: still.by, seconds: still.seconds, at: now, auto: still.auto },
              ],
          extensionsApplying: withoutClaim(current, extensionId),
        });
      });
      if (!recorded) {
        // Ended (or revoked) while we wrote: the revocation removes what we wrote; say so.
        return claimOf(extended, extensionId)
          ? dropClaim(deps, grantId, extensionId, `the access is ${extended.status}, no longer active`)
          : extended;
      }
      if (spent.spent === 'before' && !moved) {
        // Applied before: nothing moved now. A retry after a crash that had already moved Redis lands here
        // too, and is harmless to report the same way.
        await audit(deps, extended, 'replayed-extension', 'system', {
          extension: extensionId,
          seconds: claim.seconds,
          expiresAt: isoTime(spent.record.expiresAt),
          auditVersion: 1,
        });
        return extended;
      }
      await scheduleExpiry(deps, extended);
      await audit(deps, extended, 'extended', claim.by, {
        extension: extensionId,
        seconds: claim.seconds,
        auto: claim.auto,
        expiresAt: isoTime(extended.expiresAt ?? 0),
      });
      await notifySafely(deps, extended, { kind: 'extended', by: claim.by, seconds: claim.seconds });
      return extended;
    },
    { waitMs: 300_000 },
  );
}

/** The level's cap on the whole grant, approved duration included (`extend.maxTotal`, else `maxDuration`). */
function maxTotalSeconds(deps: EngineDeps, grant: Grant): number {
  const level = deps.policy.levels[grant.level];
  return parseDuration(level?.extend.maxTotal ?? level?.maxDuration ?? '0s') ?? 0;
}

/** Why this claim must not be applied, or undefined when it may. */
async function refusal(deps: EngineDeps, grant: Grant, claim: ClaimedExtension): Promise<string | undefined> {
  if (verifyDecisionSeal(deps.seal, grant, grant.decisionSeal) !== 'valid') {
    await audit(deps, grant, 'forged-grant', 'system', { during: 'extension', extension: claim.id });
    return `${grant.id} was not approved through eks-access`;
  }
  if (verifyExtensionSeal(deps.seal, grant.id, claim, claim.seal) !== 'valid') {
    await audit(deps, grant, 'forged-extension', 'system', { extension: claim.id });
    return 'the extension was not decided through eks-access';
  }
  return extensionClaimRefusal(deps.policy, grant, claim);
}

/** The expiry of the grant's own sealed RoleBinding; undefined when there is none. */
async function sealedExpiry(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
): Promise<number | undefined> {
  if (backends.accessPolicies) return sealedTagExpiry(deps, backends, grant, traceOf(grant, deps));
  const mine = (await liveSealedBindings(deps, backends, traceOf(grant, deps))).find(
    (b) => b.grantId === grant.id && b.namespace === grant.namespace,
  );
  return mine?.expiresAt;
}

async function writeExpiry(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  person: ReturnType<typeof traceOf>,
  expiresAt: number,
): Promise<void> {
  // Access-policy levels: the sealed tag on the entry, not a RoleBinding (engine/access-policy-grants.ts).
  if (backends.accessPolicies) return extendPolicyGrant(deps, backends, grant, person, expiresAt);
  const plan = planGrant({ policy: deps.policy, grant, expiresAt });
  await backends.rbac.applyRoleBinding(sealedRoleBinding(deps, plan));
  await withIdentityLock(deps, person, () => syncIdentity(deps, backends, person, { mode: 'grant' }));
}

/**
 * The job gave up (a permanent error, or retries exhausted): the claim is dropped so it no longer
 * counts against the cap, and the requester and the audit stream are told. The expiry in Redis did not
 * move, so the revocation at that time removes whatever the cluster may already carry.
 */
export async function failExtension(
  deps: EngineDeps,
  grantId: string,
  extensionId: string,
  error: unknown,
): Promise<Grant> {
  const reason: AccessError = toAccessError(error);
  return dropClaim(deps, grantId, extensionId, reason.message);
}

async function dropClaim(
  deps: EngineDeps,
  grantId: string,
  extensionId: string,
  why: string,
): Promise<Grant> {
  let dropped: ClaimedExtension | undefined;
  const after = await updateGrant(deps, grantId, (current) => {
    dropped = claimOf(current, extensionId);
    if (!dropped) return undefined;
    // Not a state change: the status stays, the version moves for compare-and-set.
    return {
      ...current,
      extensionsApplying: withoutClaim(current, extensionId),
      version: current.version + 1,
    };
  });
  if (!dropped) return after;
  await audit(deps, after, 'extension-failed', 'system', {
    extension: extensionId,
    seconds: dropped.seconds,
    decidedBy: dropped.by,
    reason: why,
  });
  await notifySafely(deps, after, { kind: 'extension-failed', seconds: dropped.seconds, reason: why });
  return after;
}

const claimOf = (grant: Grant, id: string) => grant.extensionsApplying?.find((e) => e.id === id);

const withoutClaim = (grant: Grant, id: string): ClaimedExtension[] =>
  (grant.extensionsApplying ?? []).filter((e) => e.id !== id);
