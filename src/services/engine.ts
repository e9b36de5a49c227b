// What the access engine's use cases share: their dependencies, compare-and-set updates, and the one
// routine that makes a person's shared pieces (IAM role + trust, identity mapping) match what the
// cluster says they still need.

import type { Logger } from '../adapters/logger.js';
import type { Policy } from '../config/policy.js';
import type { Clock } from '../domain/clock.js';
import { conflict, notFound } from '../domain/errors.js';
import type { Grant, GrantStatus } from '../domain/grant.js';
import { personalRoleName, userLabelValue } from '../domain/names.js';
import { personalRoleFor } from '../domain/plan.js';
import type { SealKeys } from '../domain/seal.js';
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
  for (let attempt = 0; attempt < 20; attempt++) {
    const current = await requireGrant(deps, grantId);
    const next = change(current);
    if (!next) return current;
    if (await deps.store.replace(next)) return next;
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
  deps: EngineDeps,
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

export const identityLockKey = (p: Pick<Person, 'cluster' | 'username'>) =>
  `identity:${p.cluster}:${p.username}`;

export interface IdentitySync {
  /** The person's bindings on the cluster that still grant something (expires-at in the future). */
  needed: ManagedBinding[];
  /** The trust end now in place, or undefined when the identity was torn down. */
  trustedUntil?: number;
}

/**
 * Makes the person's IAM role, trust and mapping match the cluster's RoleBindings: trusted until their
 * latest live expiry, or torn down (mapping removed, trust closed, sessions revoked, role deleted) when
 * nothing needs them. The caller must hold `identityLockKey(person)`.
 */
export async function syncIdentity(
  deps: EngineDeps,
  backends: ClusterBackends,
  person: Person,
  options: { ignoreGrantId?: string } = {},
): Promise<IdentitySync> {
  const now = deps.clock.now();
  const bindings = await backends.rbac.listBindings(userLabelValue(person.username));
  const needed = bindings.filter((b) => b.expiresAt > now && b.grantId !== options.ignoreGrantId);
  if (backends.mapping.mode === 'none') {
    return needed.length > 0
      ? { needed, trustedUntil: Math.max(...needed.map((b) => b.expiresAt)) }
      : { needed };
  }
  if (needed.length > 0) {
    const trustedUntil = Math.max(...needed.map((b) => b.expiresAt));
    const role = personalRoleFor(deps.policy, { ...person, expiresAt: trustedUntil });
    // Role before mapping: a mapping to a role nobody can assume is harmless, the reverse is not needed.
    await backends.iam.ensureRole(role);
    await backends.mapping.upsert({ roleArn: role.arn, username: person.username, groups: [] });
    return { needed, trustedUntil };
  }
  const role = personalRoleFor(deps.policy, { ...person, expiresAt: now });
  // Mapping first: from this moment the role no longer reaches the cluster, whatever IAM does next.
  // If the mapping cannot be edited (aws-auth broken by hand), still retire the role, then report it.
  const unmapped = await backends.mapping.remove(role.arn).then(
    () => undefined,
    (error: unknown) => error,
  );
  await backends.iam.retireRole(
    personalRoleName(person.cluster, person.principalArn),
    person.principalArn,
    now,
  );
  if (unmapped) throw unmapped;
  return { needed };
}

export function withIdentityLock<T>(deps: EngineDeps, person: Person, work: () => Promise<T>): Promise<T> {
  return deps.locks.withLock(identityLockKey(person), work, { leaseMs: 120_000, waitMs: 300_000 });
}

export const roleLockKey = (cluster: string, namespace: string, role: string) =>
  `role:${cluster}:${namespace}:${role}`;
