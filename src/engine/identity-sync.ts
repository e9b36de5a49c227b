// The one routine that makes a person's shared pieces (IAM role + trust, identity mapping) match what the
// cluster says they still need, and the lock every writer of those pieces takes.

import { AccessError, toAccessError } from '../domain/errors.js';
import type { ProbeCaller } from '../domain/login-probe.js';
import { personalRoleName } from '../domain/names.js';
import { personalRoleFor, trustPolicyFor } from '../domain/plan.js';
import type { ClusterBackends, ManagedBinding } from '../ports/cluster.js';
import { isLive } from '../shared/grant-records.js';
import type { EngineDeps } from './deps.js';
import { probeWindow, proveRefused } from './login-probe.js';
import { liveSealedBindings } from './sealed-bindings.js';

/** Everything that identifies a person's shared pieces on one cluster. */
export interface Person {
  cluster: string;
  username: string;
  principalArn: string;
}

/**
 * Keyed by the personal role's name (derived from cluster and principal, never from a tag), so the
 * reconciler, which finds roles in IAM, takes the same lock as the grant that needs the role.
 */
export const identityLockKey = (p: Pick<Person, 'cluster' | 'principalArn'>) =>
  roleIdentityLockKey(p.cluster, personalRoleName(p.cluster, p.principalArn));
export const roleIdentityLockKey = (cluster: string, roleName: string) => `identity:${cluster}:${roleName}`;

export interface IdentitySync {
  /** The person's sealed bindings on the cluster that still grant something. */
  needed: ManagedBinding[];
  /** All of the person's sealed live bindings read (for the caller's own checks; no second list). */
  sealed: ManagedBinding[];
  /** The trust end now in place (grant mode), or undefined when the identity was torn down or kept. */
  trustedUntil?: number;
}

/**
 * Makes the person's IAM role, trust and mapping match their sealed live RoleBindings. The caller must
 * hold `identityLockKey(person)`.
 *
 * - `grant` (activation, extension: working from an approved grant record): creates or renews the role,
 *   trusted until the latest expiry among the sealed bindings whose grant Redis holds as approved or
 *   active, and adds the mapping. Activation writes its binding with the final expiry (fixed by the
 *   ledger) first, so one pass sets the trust's end.
 * - `take-away` (revocation, the reconciler): never creates, widens or prolongs anything. When no sealed
 *   live binding needs the identity any more it is torn down (mapping removed, trust closed, sessions
 *   revoked, role deleted); otherwise nothing is written.
 */
export async function syncIdentity(
  deps: EngineDeps,
  backends: ClusterBackends,
  person: Person,
  options: {
    ignoreGrantId?: string;
    mode: 'grant' | 'take-away';
    /** Grant mode: the trust also lets the worker's probe in until then (engine/login-probe.ts). */
    probe?: { caller: ProbeCaller; until: number };
    /** Grant mode, after a probe: the role exists and only its trust changes (one IAM write). */
    trustOnly?: boolean;
  },
): Promise<IdentitySync> {
  const now = deps.clock.now();
  const sealed = await liveSealedBindings(deps, backends, person, options);
  const needed = options.mode === 'grant' ? await withLiveGrants(deps, sealed) : sealed;
  if (backends.mapping.mode === 'none') return { needed, sealed };
  if (needed.length > 0) {
    if (options.mode === 'take-away') return { needed, sealed };
    const trustedUntil = Math.max(...needed.map((b) => b.expiresAt));
    const role = personalRoleFor(deps.policy, { ...person, expiresAt: trustedUntil }, options.probe);
    if (options.trustOnly) {
      await backends.iam.ensureRole(role, { exists: true, trustOnly: true });
      return { needed, sealed, trustedUntil };
    }
    // Role before mapping: a mapping to a role nobody can assume is harmless, the reverse is not needed.
    const { created } = await backends.iam.ensureRole(role);
    await backends.mapping.upsert(
      { roleArn: role.arn, username: person.username, groups: [] },
      { roleIsNew: created },
    );
    return { needed, sealed, trustedUntil };
  }
  if (sealed.length > 0) return { needed, sealed }; // grant mode with nothing approved behind it: leave as is
  const role = personalRoleFor(deps.policy, { ...person, expiresAt: now });
  await retireIdentity(deps, backends, { name: role.name, arn: role.arn }, person.principalArn, now);
  return { needed, sealed };
}

/** Sealed bindings whose grant is approved or active in Redis: what the grant path may extend trust to. */
async function withLiveGrants(deps: EngineDeps, bindings: ManagedBinding[]): Promise<ManagedBinding[]> {
  const kept: ManagedBinding[] = [];
  for (const binding of bindings) {
    const grant = await deps.store.get(binding.grantId);
    if (grant && isLive(grant.status)) kept.push(binding);
  }
  return kept;
}

/**
 * Tears down one personal role: mapping first (from this moment the role no longer reaches the
 * cluster, whatever IAM does next), then the role. Where the cluster proves logins, the person's trust is
 * closed with the probe's statement open, and the role goes only once new sessions of it are refused by
 * the cluster (engine/login-probe.ts). Until then the role stays, trusted by nobody but the probe, and this
 * throws `unavailable` marked `revocation: 'unproven'`: the revocation is retried (a new probe window each
 * time) and counted, and the grant stays `revoking`. If the mapping cannot be edited (aws-auth broken by
 * hand), the role is still retired, then the mapping error is reported.
 */
export async function retireIdentity(
  deps: EngineDeps,
  backends: ClusterBackends,
  role: { name: string; arn: string },
  principalArn: string,
  now: number,
): Promise<void> {
  // Both forms a grant may have: the cluster's mapping, and aws-auth where an auto cluster moved on.
  const unmapped = await backends.mapping
    .remove(role.arn)
    .then(() => backends.formerMapping?.remove(role.arn))
    .then(
      () => undefined,
      (error: unknown) => error,
    );
  let trustClosed = false;
  if (!unmapped && backends.probe) {
    const window = await probeWindow(deps, backends.probe);
    trustClosed = await backends.iam.replaceTrust(
      role.name,
      trustPolicyFor(principalArn, now - 60_000, window),
    );
    // Unproven, the role stays: deleting it would end the proof, not the way in (the authenticator maps
    // an ARN, and sessions already issued outlive their role's deletion). The person's statement is
    // closed, so nobody new gets a session meanwhile; what still gets in is named for the platform team.
    if (trustClosed)
      await proveRefused(deps, backends.probe, role.arn).catch((error: unknown) => {
        deps.logger.warn(
          { event: 'revocation-unproven', role: role.arn, err: error },
          'the cluster did not refuse a retired personal role in time; the role is kept and the revocation retried',
        );
        deps.onRevocationUnproven?.(role.arn);
        throw unprovenRevocation(toAccessError(error), role.arn);
      });
  }
  await backends.iam.retireRole(role.name, principalArn, now, { trustClosed });
  if (unmapped) throw unmapped;
}

/** The proof's failure, marked so the revoke job can put it in the grant's audit trail. */
const unprovenRevocation = (error: AccessError, roleArn: string) =>
  new AccessError('unavailable', error.message, {
    hint: error.hint ?? 'The revocation is tried again until the cluster refuses the role.',
    details: { ...error.details, revocation: 'unproven', role: roleArn },
    cause: error,
  });

/** Whether `error` is a revocation the cluster did not yet refuse (see retireIdentity). */
export const isUnprovenRevocation = (error: unknown): boolean =>
  toAccessError(error).details['revocation'] === 'unproven';

export function withIdentityLock<T>(deps: EngineDeps, person: Person, work: () => Promise<T>): Promise<T> {
  return withLockOn(deps, identityLockKey(person), work);
}

/**
 * The lease is the default (renewed while the work runs, so a throttled IAM call keeps it): a worker
 * killed while holding it blocks that person's other grants for seconds, not minutes. The wait is long
 * because a holder may be retrying a throttled IAM for a while.
 */
export function withLockOn<T>(deps: EngineDeps, key: string, work: () => Promise<T>): Promise<T> {
  return deps.locks.withLock(key, work, { waitMs: 300_000 });
}
