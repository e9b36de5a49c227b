// What the access engine's use cases share: their dependencies, compare-and-set updates, and the one
// routine that makes a person's shared pieces (IAM role + trust, identity mapping) match what the
// cluster says they still need.

import type { Logger } from '../adapters/logger.js';
import type { Policy } from '../config/policy.js';
import type { Clock } from '../domain/clock.js';
import { conflict, notFound } from '../domain/errors.js';
import type { Grant, GrantStatus } from '../domain/grant.js';
import { ANNOTATIONS, LABELS, personalRoleName, userLabelValue } from '../domain/names.js';
import { type AccessPlan, personalRoleFor, type RoleBindingManifest } from '../domain/plan.js';
import { type SealKeys, sealBinding, verifyFoundBinding } from '../domain/seal.js';
import type { DurableArchive } from '../ports/archive.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { ClusterBackends, ClusterConnections, ManagedBinding } from '../ports/cluster.js';
import type { GrantStore } from '../ports/grant-store.js';
import type { AwsIdentityResolver } from '../ports/identity.js';
import type { Locks } from '../ports/lock.js';
import type { Notifier } from '../ports/notifier.js';
import type { Scheduler } from '../ports/scheduler.js';

/** Named points between side effects; tests use them to stop a worker mid-grant (a crash). */
export type EngineStep = 'role-binding' | 'identity' | 'verified' | 'revoke-binding';

export interface EngineDeps {
  store: GrantStore;
  audit: AuditLog;
  scheduler: Scheduler;
  notifier: Notifier;
  locks: Locks;
  clock: Clock;
  clusters: ClusterConnections;
  policy: Policy;
  logger: Logger;
  /** Seals the RoleBindings the worker writes; verifies found ones and approved decisions. */
  seal: SealKeys;
  /** Who a Slack user is on AWS now: activation re-checks the requester's principal with it. */
  identity: AwsIdentityResolver;
  /**
   * The durable archive: the spent ledger (engine/ledger.ts) that makes decisions and extension claims
   * single-use and ends final, whatever Redis says; and the break-glass index the reconciler restores counts
   * from after Redis lost its data. Only the worker (and the CLI) hold it here.
   */
  archive: DurableArchive;
  /** Names this process in ledger records (the composition root: host and pid). */
  workerId?: string;
  /** Called after each step; never set in production. */
  afterStep?: (step: EngineStep, grantId: string) => Promise<void>;
}

export async function requireGrant(deps: Pick<EngineDeps, 'store'>, grantId: string): Promise<Grant> {
  const grant = await deps.store.get(grantId);
  if (!grant) throw notFound(`There is no request ${grantId}`, undefined, { grantId });
  return grant;
}

/**
 * Re-reads and applies `change` until the compare-and-set lands. `change` returns the next record, or
 * undefined to stop (the grant is already where the caller wanted it).
 */
export async function updateGrant(
  deps: Pick<EngineDeps, 'store'>,
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
  deps: Pick<EngineDeps, 'store'>,
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
  deps: EngineDeps,
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
  deps: Pick<EngineDeps, 'audit' | 'clock'>,
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

export const step = async (deps: EngineDeps, name: EngineStep, grantId: string) => {
  if (deps.afterStep) await deps.afterStep(name, grantId);
};

export const isLive = (status: GrantStatus) => status === 'approved' || status === 'active';

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

/** Whether a found binding is one the worker wrote (see verifyFoundBinding). */
export const sealVerdict = (deps: Pick<EngineDeps, 'seal'>, cluster: string, binding: ManagedBinding) =>
  verifyFoundBinding(deps.seal, cluster, binding);

export const isSealed = (deps: Pick<EngineDeps, 'seal'>, cluster: string, binding: ManagedBinding) =>
  sealVerdict(deps, cluster, binding) === 'valid';

/** The plan's RoleBinding with the seal over what it grants: the only way our bindings are written. */
export function sealedRoleBinding(deps: Pick<EngineDeps, 'seal'>, plan: AccessPlan): RoleBindingManifest {
  const { roleBinding } = plan;
  const annotations = roleBinding.metadata.annotations ?? {};
  const seal = sealBinding(deps.seal, {
    grantId: plan.grantId,
    cluster: plan.cluster,
    namespace: plan.namespace,
    level: roleBinding.metadata.labels[LABELS.level] ?? '',
    username: plan.username,
    principalArn: annotations[ANNOTATIONS.principalArn] ?? '',
    roleArn: plan.personalRole?.arn ?? '',
    expiresAt: Date.parse(plan.expiresAt),
    roleRef: roleBinding.roleRef,
    ...(annotations[ANNOTATIONS.requester] ? { requester: annotations[ANNOTATIONS.requester] } : {}),
  });
  return {
    ...roleBinding,
    metadata: { ...roleBinding.metadata, annotations: { ...annotations, [ANNOTATIONS.seal]: seal } },
  };
}

/** The person's sealed bindings on the cluster that still grant something (expiry in the future). */
export async function liveSealedBindings(
  deps: EngineDeps,
  backends: ClusterBackends,
  person: Person,
  options: { ignoreGrantId?: string } = {},
): Promise<ManagedBinding[]> {
  const now = deps.clock.now();
  const bindings = await backends.rbac.listBindings(userLabelValue(person.username));
  return bindings.filter(
    (b) =>
      b.expiresAt > now &&
      b.grantId !== options.ignoreGrantId &&
      b.username === person.username &&
      b.principalArn === person.principalArn &&
      isSealed(deps, person.cluster, b),
  );
}

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
  options: { ignoreGrantId?: string; mode: 'grant' | 'take-away' },
): Promise<IdentitySync> {
  const now = deps.clock.now();
  const sealed = await liveSealedBindings(deps, backends, person, options);
  const needed = options.mode === 'grant' ? await withLiveGrants(deps, sealed) : sealed;
  if (backends.mapping.mode === 'none') return { needed, sealed };
  if (needed.length > 0) {
    if (options.mode === 'take-away') return { needed, sealed };
    const trustedUntil = Math.max(...needed.map((b) => b.expiresAt));
    const role = personalRoleFor(deps.policy, { ...person, expiresAt: trustedUntil });
    // Role before mapping: a mapping to a role nobody can assume is harmless, the reverse is not needed.
    await backends.iam.ensureRole(role);
    await backends.mapping.upsert({ roleArn: role.arn, username: person.username, groups: [] });
    return { needed, sealed, trustedUntil };
  }
  if (sealed.length > 0) return { needed, sealed }; // grant mode with nothing approved behind it: leave as is
  const role = personalRoleFor(deps.policy, { ...person, expiresAt: now });
  await retireIdentity(backends, { name: role.name, arn: role.arn }, person.principalArn, now);
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
 * cluster, whatever IAM does next), then the role. If the mapping cannot be edited (aws-auth broken by
 * hand), the role is still retired, then the mapping error is reported.
 */
export async function retireIdentity(
  backends: ClusterBackends,
  role: { name: string; arn: string },
  principalArn: string,
  now: number,
): Promise<void> {
  const unmapped = await backends.mapping.remove(role.arn).then(
    () => undefined,
    (error: unknown) => error,
  );
  await backends.iam.retireRole(role.name, principalArn, now);
  if (unmapped) throw unmapped;
}

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
