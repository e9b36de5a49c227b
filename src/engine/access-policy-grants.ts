// Grants of access-policy levels (policy `accessPolicy`): nothing is written into the cluster. The person's
// access entry (one per person and cluster, for their personal role) carries one sealed tag per grant
// (domain/access-policy-tags.ts) and, per managed policy, one association scoped to the namespaces of
// their live grants of it. Every change to the entry happens under the person's identity lock, so two
// grants in two namespaces share one association's namespace list without losing each other's namespace,
// and revoking one never narrows the other's namespace away, nor widens anything.
//
// The worker needs no Kubernetes access on such a cluster: the activation is proven by the login probe
// as the person (SelfSubjectAccessReviews through EKS's authorizer), and the revocation by the probe's
// refusal once the entry is gone.
import { type AccessPolicyName, accessPolicyNameOf } from '../domain/access-policies.js';
import {
  GRANT_TAG_PREFIX,
  grantTag,
  MAX_GRANT_TAGS,
  namespacesToKeep,
  type PolicyGrantFacts,
  PRINCIPAL_TAG,
  readGrantTags,
} from '../domain/access-policy-tags.js';
import { AccessError, misconfigured } from '../domain/errors.js';
import { type Grant, LIVE_STATUSES } from '../domain/grant.js';
import { type AccessPlan, personalRoleFor, planGrant } from '../domain/plan.js';
import type { AccessPolicyEntries, ClusterBackends, PolicyEntry } from '../ports/cluster.js';
import { isLive } from '../shared/grant-records.js';
import type { EngineDeps } from './deps.js';
import { type IdentitySync, type Person, retireIdentity, withIdentityLock } from './identity-sync.js';
import { claimActivation } from './ledger.js';
import { type LoginProof, probeWindow, proveLogin } from './login-probe.js';

/** The cluster's access-policy side, or `misconfigured` naming why this cluster cannot hold such a grant. */
export function policyEntriesOf(
  backends: ClusterBackends,
  grant: Pick<Grant, 'cluster' | 'level'>,
  policy: AccessPolicyName,
): AccessPolicyEntries {
  if (backends.mapping.mode !== 'access-entries' || !backends.accessPolicies) {
    throw misconfigured(
      `Level ${grant.level} is the EKS access policy ${policy}, which EKS applies only to access entries, but cluster ${grant.cluster} maps people through ${backends.mapping.mode}`,
      'Switch the cluster to API_AND_CONFIG_MAP (aws eks update-cluster-config --access-config authenticationMode=API_AND_CONFIG_MAP) with identityMapping auto or access-entries. Nothing was written.',
    );
  }
  return backends.accessPolicies;
}

/** Sealed grant tags of `person` that have not expired, except `ignoreGrantId`'s. */
function liveTags(
  sealed: readonly PolicyGrantFacts[],
  person: Person,
  now: number,
  ignoreGrantId?: string,
): PolicyGrantFacts[] {
  return sealed.filter(
    (g) =>
      g.grantId !== ignoreGrantId &&
      g.expiresAt > now &&
      g.principalArn === person.principalArn &&
      g.username === person.username,
  );
}

/** The sealed tag that records `grant` of `policy` on the entry of `person`'s role, until `expiresAt`. */
function tagOf(
  deps: EngineDeps,
  grant: Grant,
  person: Person,
  policy: AccessPolicyName,
  roleArn: string,
  expiresAt: number,
) {
  return grantTag(deps.seal, {
    grantId: grant.id,
    cluster: grant.cluster,
    namespace: grant.namespace,
    level: grant.level,
    policy,
    username: person.username,
    principalArn: person.principalArn,
    roleArn,
    expiresAt,
    requester: grant.requester.slackUserId,
  });
}

export interface PolicyActivation {
  plan: AccessPlan;
  activatedAt: number;
  expiresAt: number;
  proof?: LoginProof;
}

/**
 * Everything an activation of an access-policy level writes, after the decision was checked: the ledger
 * claim (fixing the expiry), then under the person's lock the role (trusted until the latest of their live
 * grants here, with the probe's statement), the entry, this grant's tag, the association, the login proof
 * and the trust without the probe's statement. Retried whole after a crash: each write is idempotent.
 */
export async function activatePolicyGrant(
  deps: EngineDeps,
  grant: Grant,
  backends: ClusterBackends,
  policy: AccessPolicyName,
  person: Person,
  progress: { wrote: boolean },
): Promise<PolicyActivation> {
  const entries = policyEntriesOf(backends, grant, policy);
  await backends.mapping.preflight();
  const { record } = await claimActivation(deps, grant);
  const { activatedAt, expiresAt } = record;
  const plan = planGrant({ policy: deps.policy, grant, expiresAt, resolvedMapping: 'access-entries' });
  const role = plan.personalRole;
  const association = plan.accessPolicy;
  if (!role || !association) throw new Error(`plan of ${grant.id} has no personal role or access policy`);
  progress.wrote = true;
  const proof = await withIdentityLock(deps, person, async () => {
    const now = deps.clock.now();
    const existing = await entries.read(role.arn);
    const sealed = existing ? readGrantTags(deps.seal, grant.cluster, existing).sealed : [];
    // The trust reaches as far as the live grants Redis holds as approved or active (as for RBAC levels).
    const others: PolicyGrantFacts[] = [];
    for (const tag of liveTags(sealed, person, now, grant.id)) {
      const stored = await deps.store.get(tag.grantId);
      if (stored && isLive(stored.status)) others.push(tag);
    }
    if (others.length + 1 > MAX_GRANT_TAGS) {
      throw new AccessError(
        'bad_input',
        `${person.username} already holds ${others.length} access-policy grants on ${grant.cluster}, the most one access entry can record`,
        { hint: 'End one (`done <id>`) and ask again.' },
      );
    }
    const trustedUntil = Math.max(expiresAt, ...others.map((g) => g.expiresAt));
    const window = await probeWindow(deps, backends.probe);
    const { created } = await backends.iam.ensureRole(
      personalRoleFor(deps.policy, { ...person, expiresAt: trustedUntil }, window),
    );
    await backends.mapping.upsert(
      { roleArn: role.arn, username: person.username, groups: [] },
      { roleIsNew: created },
    );
    // The tag before the association: a namespace is never associated without a sealed grant behind it.
    const tag = tagOf(deps, grant, person, policy, role.arn, expiresAt);
    await entries.tag(role.arn, { [PRINCIPAL_TAG]: person.principalArn, [tag.key]: tag.value });
    // The other grants keep what the association gives them now (never re-added from the tags: cluster
    // state does not widen access), and this grant's namespace joins.
    const current = existing?.associations.find(
      (a) => a.policyArn === association.policyArn && a.scope === 'namespace',
    );
    const kept = namespacesToKeep(others, policy, now, current?.namespaces ?? []);
    await entries.associate(role.arn, association.policyArn, [...new Set([...kept, grant.namespace])].sort());
    await verifyAssociated(entries, role.arn, association.policyArn, grant.namespace, person.username);
    const { probe } = backends;
    if (!window || !probe) return undefined;
    try {
      return await proveLogin(deps, probe, {
        roleArn: role.arn,
        username: person.username,
        checks: plan.checks,
      });
    } finally {
      await backends.iam
        .ensureRole(personalRoleFor(deps.policy, { ...person, expiresAt: trustedUntil }), {
          exists: true,
          trustOnly: true,
        })
        .catch((error: unknown) =>
          deps.logger.warn(
            { err: error, role: role.arn },
            "could not take the login probe's statement out of the trust; it lapses on its own",
          ),
        );
    }
  });
  return { plan, activatedAt, expiresAt, ...(proof ? { proof } : {}) };
}

/** Reads the entry back: our username, and the policy associated with the grant's namespace. */
async function verifyAssociated(
  entries: AccessPolicyEntries,
  roleArn: string,
  policyArn: string,
  namespace: string,
  username: string,
): Promise<void> {
  const entry = await entries.read(roleArn);
  const association = entry?.associations.find((a) => a.policyArn === policyArn);
  const problem = !entry
    ? 'the access entry is gone'
    : entry.username !== username
      ? `the access entry maps to "${entry.username}", not "${username}"`
      : association?.scope !== 'namespace' || !association.namespaces.includes(namespace)
        ? `${policyArn} is not associated for namespace ${namespace}`
        : undefined;
  if (problem)
    throw new AccessError('internal', `The access entry of ${roleArn} is not as written: ${problem}`, {
      hint: 'Something else edits the access entry; the platform team should check the cluster.',
    });
}

/**
 * Takes one grant's access away: its tag, then its namespace from the association of its policy unless
 * another live sealed grant of the person holds the same policy there; with no live grant left, the
 * entry (every association with it) and the role (engine/identity-sync.ts retireIdentity, proven by the
 * login probe). Associations on our entry that no sealed live grant explains (cluster-wide ones, foreign
 * policies) are removed too: taking away is always allowed. Idempotent; the caller holds no lock.
 */
export async function removePolicyGrant(
  deps: EngineDeps,
  backends: ClusterBackends,
  trace: Person & { grantId: string },
): Promise<IdentitySync> {
  const entries = backends.accessPolicies;
  if (!entries) return { needed: [], sealed: [] };
  return withIdentityLock(deps, trace, async () => {
    const now = deps.clock.now();
    const role = personalRoleFor(deps.policy, { ...trace, expiresAt: now });
    const entry = await entries.read(role.arn);
    const found = entry
      ? liveTags(readGrantTags(deps.seal, trace.cluster, entry).sealed, trace, now, trace.grantId)
      : [];
    // A sealed tag of a grant Redis knows as ended (a copy put back after its revocation) keeps nothing:
    // Redis may only take away here. A tag Redis does not know stays until its sealed expiry.
    const remaining: PolicyGrantFacts[] = [];
    const ended: string[] = [];
    for (const tag of found) {
      const stored = await deps.store.get(tag.grantId);
      if (stored && !LIVE_STATUSES.has(stored.status)) ended.push(`${GRANT_TAG_PREFIX}${tag.grantId}`);
      else remaining.push(tag);
    }
    if (entry) {
      await entries.untag(role.arn, [`${GRANT_TAG_PREFIX}${trace.grantId}`, ...ended]);
      await narrowAssociations(entries, entry, remaining, now);
    }
    if (remaining.length === 0) {
      await retireIdentity(deps, backends, { name: role.name, arn: role.arn }, trace.principalArn, now);
    }
    return { needed: [], sealed: [] };
  });
}

/** What `narrowAssociations` took away from one association: all of it, or some of its namespaces. */
export interface NarrowedAssociation {
  policyArn: string;
  removed: string;
}

/**
 * Cuts every association on `entry` down to what `explaining` (sealed live grants of its person) gives:
 * a namespace no such grant of that policy holds goes, a cluster-wide association or a policy we do not
 * know goes whole. Only takes away; the caller holds the person's identity lock. Returns what went.
 */
export async function narrowAssociations(
  entries: AccessPolicyEntries,
  entry: PolicyEntry,
  explaining: readonly PolicyGrantFacts[],
  now: number,
): Promise<NarrowedAssociation[]> {
  const narrowed: NarrowedAssociation[] = [];
  for (const association of unexplainedAssociations(entry, explaining, now)) {
    if (association.keep.length === 0) await entries.disassociate(entry.roleArn, association.policyArn);
    else await entries.associate(entry.roleArn, association.policyArn, association.keep);
    narrowed.push({ policyArn: association.policyArn, removed: association.removed });
  }
  return narrowed;
}

/** The associations on `entry` wider than `explaining` gives, each with what may stay (see above). */
export function unexplainedAssociations(
  entry: PolicyEntry,
  explaining: readonly PolicyGrantFacts[],
  now: number,
): { policyArn: string; keep: string[]; removed: string }[] {
  return entry.associations.flatMap((association) => {
    const name = accessPolicyNameOf(association.policyArn);
    const keep =
      name && association.scope === 'namespace'
        ? namespacesToKeep(explaining, name, now, association.namespaces)
        : [];
    if (association.scope === 'namespace' && keep.length === association.namespaces.length) return [];
    const removed =
      association.scope === 'cluster'
        ? 'cluster-wide'
        : association.namespaces.filter((ns) => !keep.includes(ns)).join(', ');
    return [{ policyArn: association.policyArn, keep, removed }];
  });
}

/** The expiry sealed in the grant's own tag on the person's entry; undefined when there is none. */
export async function sealedTagExpiry(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  person: Person,
): Promise<number | undefined> {
  const entries = backends.accessPolicies;
  if (!entries) return undefined;
  const role = personalRoleFor(deps.policy, { ...person, expiresAt: 0 });
  const entry = await entries.read(role.arn);
  if (!entry) return undefined;
  return liveTags(readGrantTags(deps.seal, grant.cluster, entry).sealed, person, deps.clock.now()).find(
    (t) => t.grantId === grant.id && t.namespace === grant.namespace,
  )?.expiresAt;
}

/**
 * An extension of an access-policy grant (engine/extend-grant.ts): the grant's tag is sealed again with the
 * later expiry, then the role's trust reaches the latest live grant's. The association is untouched (the
 * namespace is already there). Under the person's lock; idempotent.
 */
export async function extendPolicyGrant(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  person: Person,
  expiresAt: number,
): Promise<void> {
  const policy = deps.policy.levels[grant.level]?.accessPolicy;
  if (!policy) throw misconfigured(`Access level ${grant.level} is no longer an access-policy level`);
  const entries = policyEntriesOf(backends, grant, policy);
  await withIdentityLock(deps, person, async () => {
    const role = personalRoleFor(deps.policy, { ...person, expiresAt });
    const entry = await entries.read(role.arn);
    const others = entry
      ? liveTags(readGrantTags(deps.seal, grant.cluster, entry).sealed, person, deps.clock.now(), grant.id)
      : [];
    const tag = tagOf(deps, grant, person, policy, role.arn, expiresAt);
    // The tag first: a trust longer than any sealed tag would be a role nothing explains.
    await entries.tag(role.arn, { [tag.key]: tag.value });
    const until = Math.max(expiresAt, ...others.map((g) => g.expiresAt));
    await backends.iam.ensureRole(personalRoleFor(deps.policy, { ...person, expiresAt: until }), {
      exists: true,
    });
  });
}
