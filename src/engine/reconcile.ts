// The reconciler: a periodic sweep of Redis and of every cluster that enforces expiry even when a job
// was lost or Redis was emptied. It only ever takes access away: sealed RoleBindings (the ones the
// worker wrote, src/domain/seal.ts) say who still needs what; IAM roles and mapping entries under our
// path that no sealed live RoleBinding needs are torn down; look-alikes are ignored and reported.

import { roleOf, sameRole } from '../domain/arn.js';
import { forbidden, toAccessError } from '../domain/errors.js';
import { type Grant, LIVE_STATUSES } from '../domain/grant.js';
import { accountOf, isOtherInstallation, personalRolePath } from '../domain/names.js';
import { sealKeyId, verifyDecisionSeal } from '../domain/seal.js';
import { type LiveSeal, type SealKeyUse, sealKeyUses } from '../domain/seal-keys-census.js';
import type { ClusterBackends, ManagedBinding, ManagedRole, MappingEntry } from '../ports/cluster.js';
import { endGrant } from '../shared/end-grant.js';
import { audit } from '../shared/grant-records.js';
import { lapsePendingRequest } from '../shared/reminders.js';
import { failActivation } from './activate.js';
import { restoreBreakGlassCounts } from './break-glass-counts.js';
import type { EngineDeps } from './deps.js';
import { type ForgedBinding, forgedFinding, reportForged } from './forged.js';
import {
  type Person,
  retireIdentity,
  roleIdentityLockKey,
  syncIdentity,
  withIdentityLock,
  withLockOn,
} from './identity-sync.js';
import { endedInLedger, endedThen } from './ledger.js';
import { rebuildGrant } from './rebuild.js';
import { sweepPolicyCluster } from './reconcile-access-policies.js';
import { type GrantTrace, removeTrace, revokeGrant } from './revoke.js';
import { isSealed, sealVerdict } from './sealed-bindings.js';

/** An IAM role this young may belong to an activation that has not written its RoleBinding yet. */
export const IN_FLIGHT_MS = 2 * 60_000;

export interface ReconcileReport {
  dryRun: boolean;
  at: number;
  /** Grants Redis knew to be due: expired, stuck revoking, lapsed, stuck approved (re-queued). */
  grantsEnded: string[];
  requestsLapsed: string[];
  activationsRequeued: string[];
  /** `approved` records whose grant the ledger says ended (a replay): refused, never re-queued. */
  activationsRefused: string[];
  /** Claimed extensions with no result after IN_FLIGHT_MS (a lost job): queued again, as `<grant>/<id>`. */
  extensionsRequeued: string[];
  /** Our RoleBindings removed from cluster state alone (expired, or their grant is over). */
  bindingsRemoved: { cluster: string; namespace: string; grantId: string; why: string }[];
  /** People whose shared identity (role, trust, mapping) nothing needed any more. */
  identitiesRemoved: { cluster: string; username: string; why: string }[];
  mappingsRemoved: { cluster: string; roleArn: string }[];
  /** RoleBindings that look like ours but fail the seal: ignored for every decision, reported once. */
  forgedBindings: ForgedBinding[];
  /** aws-auth entries of ours written with the role's path (before the fix), rewritten path-less. */
  mappingsMigrated: { cluster: string; roleArn: string; grantId: string }[];
  /** Records of live grants Redis had lost, rebuilt from their sealed RoleBindings (rebuild.ts). */
  grantsRebuilt: { cluster: string; grantId: string; requester: string }[];
  /**
   * Live RoleBindings of this installation per key of SEAL_KEYS that sealed them (every key, 0 included),
   * and whether every cluster was counted: a partial count could call a key unused that is not.
   */
  sealKeys: { uses: SealKeyUse[]; complete: boolean };
  /**
   * Associations on our access entries cut back to what their sealed live grant tags give (someone else
   * widened them): `removed` names the namespaces taken away, or `cluster-wide`.
   */
  associationsNarrowed: { cluster: string; username: string; policyArn: string; removed: string }[];
  /** Access entries (anyone's) on each access-entries cluster swept, for EKS's per-cluster limit. */
  accessEntries: { cluster: string; total: number }[];
  /** Break-glass uses put back into Redis's counts from the archive's index (set when Redis had none). */
  breakGlassUsesRestored?: number | undefined;
  errors: { where: string; message: string }[];
}

/** A report with nothing found yet. */
export const emptyReconcileReport = (dryRun: boolean, at: number): ReconcileReport => ({
  dryRun,
  at,
  grantsEnded: [],
  requestsLapsed: [],
  activationsRequeued: [],
  activationsRefused: [],
  extensionsRequeued: [],
  bindingsRemoved: [],
  identitiesRemoved: [],
  mappingsRemoved: [],
  forgedBindings: [],
  mappingsMigrated: [],
  grantsRebuilt: [],
  associationsNarrowed: [],
  accessEntries: [],
  sealKeys: { uses: [], complete: false },
  errors: [],
});

export async function reconcile(
  deps: EngineDeps,
  options: { dryRun?: boolean } = {},
): Promise<ReconcileReport> {
  const report = emptyReconcileReport(options.dryRun ?? false, deps.clock.now());
  await guarded(report, 'redis', () => sweepStore(deps, report));
  const archive = deps.archive;
  if (archive && !report.dryRun)
    await guarded(report, 'break-glass counts', async () => {
      report.breakGlassUsesRestored = await restoreBreakGlassCounts({ ...deps, archive });
    });
  const census: SealCensus = { seals: [], clusters: new Set() };
  const clusters = Object.keys(deps.policy.clusters);
  for (const cluster of clusters) {
    await guarded(report, cluster, async () =>
      sweepCluster(deps, report, cluster, await deps.clusters.forCluster(cluster), census),
    );
  }
  report.sealKeys = {
    uses: sealKeyUses(deps.seal.ids, census.seals),
    complete: clusters.every((c) => census.clusters.has(c)),
  };
  if (report.errors.length > 0) deps.logger.warn({ errors: report.errors }, 'reconcile finished with errors');
  return report;
}

async function guarded(report: ReconcileReport, where: string, work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (error) {
    report.errors.push({ where, message: toAccessError(error).message });
  }
}

async function sweepStore(deps: EngineDeps, report: ReconcileReport): Promise<void> {
  const now = deps.clock.now();
  const grants = await deps.store.listByStatus(['pending', 'approved', 'active', 'revoking']);
  for (const grant of grants) {
    await guarded(report, grant.id, async () => {
      if ((grant.status === 'active' && (grant.expiresAt ?? 0) <= now) || grant.status === 'revoking') {
        report.grantsEnded.push(grant.id);
        if (!report.dryRun) await revokeGrant(deps, grant.id);
      } else if (grant.status === 'pending' && grant.pendingUntil <= now) {
        report.requestsLapsed.push(grant.id);
        if (!report.dryRun) await lapsePendingRequest(deps, grant.id);
      } else if (
        grant.status === 'approved' &&
        // A window waiting for its start is not stuck: its activation job is due at the start.
        Math.max(grant.decidedAt ?? grant.createdAt, grant.startsAt ?? 0) + IN_FLIGHT_MS < now
      ) {
        // A record set back to `approved` after its grant ended is never re-queued. (One whose approval
        // is past its use-by time is re-queued and refused by the activation: that check needs the seal.)
        if (await endedInLedger(deps, grant.id)) {
          report.activationsRefused.push(grant.id);
          if (!report.dryRun) await refuseEndedActivation(deps, grant.id);
        } else {
          report.activationsRequeued.push(grant.id);
          if (!report.dryRun) await deps.scheduler.enqueueActivation(grant.id);
        }
      }
      // An extension claimed in Slack whose job never ran (Redis failed between claim and enqueue):
      // the job applies it, or drops and reports it when the grant is no longer active.
      for (const claim of grant.extensionsApplying ?? []) {
        if (claim.at + IN_FLIGHT_MS >= now) continue;
        report.extensionsRequeued.push(`${grant.id}/${claim.id}`);
        if (!report.dryRun) await deps.scheduler.enqueueExtension(grant.id, claim.id);
      }
    });
  }
}

/** Why this binding should go, or undefined when it still grants what it should. */
function bindingVerdict(binding: ManagedBinding, grant: Grant | undefined, now: number): string | undefined {
  // An activation in progress owns its binding (provisional expiry) until it succeeds or fails.
  if (grant?.status === 'approved') return undefined;
  if (!(binding.expiresAt > now)) return 'expired';
  if (grant && !LIVE_STATUSES.has(grant.status)) return `grant is ${grant.status}`;
  // Unknown to Redis (lost or flushed): the binding's own expiry rules.
  return undefined;
}

/** Bindings judged per batch: their grants are read together, and only one batch's grants are held. */
const GRANT_BATCH = 200;

/**
 * The grants a batch of bindings names, read from Redis in parallel (one round trip per batch instead of
 * one per binding: a pass over 10 000 bindings spent most of its time here). A grant that cannot be read
 * counts as unknown to Redis, as before: the binding's own expiry rules.
 */
async function grantsOf(deps: EngineDeps, bindings: readonly ManagedBinding[]): Promise<Map<string, Grant>> {
  const ids = [...new Set(bindings.map((b) => b.grantId))];
  const read = await Promise.all(ids.map((id) => deps.store.get(id).catch(() => undefined)));
  const grants = new Map<string, Grant>();
  read.forEach((grant, j) => {
    if (grant) grants.set(ids[j] as string, grant);
  });
  return grants;
}

/** The live seals of this installation found so far, and the clusters whose bindings were all read. */
interface SealCensus {
  seals: LiveSeal[];
  clusters: Set<string>;
}

/**
 * Each binding with its grant (undefined: unknown to Redis), a batch at a time: reading all 10 000 grants
 * before judging the first binding held them all at once, which set the worker's peak RSS.
 */
async function* withGrants(
  deps: EngineDeps,
  bindings: readonly ManagedBinding[],
): AsyncGenerator<[ManagedBinding, Grant | undefined]> {
  for (let i = 0; i < bindings.length; i += GRANT_BATCH) {
    const batch = bindings.slice(i, i + GRANT_BATCH);
    const grants = await grantsOf(deps, batch);
    for (const binding of batch) yield [binding, grants.get(binding.grantId)];
  }
}

async function sweepCluster(
  deps: EngineDeps,
  report: ReconcileReport,
  cluster: string,
  backends: ClusterBackends,
  census: SealCensus,
): Promise<void> {
  // Access-policy levels: no Kubernetes access; the EKS API tells everything (reconcile-access-policies.ts).
  if (backends.accessPolicies)
    return sweepPolicyCluster(deps, report, cluster, backends, (where, work) => guarded(report, where, work));
  const now = deps.clock.now();
  const found = await backends.rbac.listBindings();
  const live: ManagedBinding[] = [];
  const installation = deps.policy.settings.installation;
  for await (const [binding, grant] of withGrants(deps, found)) {
    const verdict = sealVerdict(deps, cluster, binding);
    // Another installation's binding, sealed with its own keys: not a look-alike of ours, not ours to end.
    if (verdict !== 'valid' && isOtherInstallation(installation, binding)) continue;
    if (verdict !== 'valid') {
      // A look-alike counts for nothing: it keeps no identity alive and ends nobody's. Reported once.
      report.forgedBindings.push(forgedFinding(cluster, binding, verdict));
      if (!report.dryRun)
        await guarded(report, `${cluster}/${binding.namespace}/${binding.name}`, () =>
          reportForged(deps, cluster, binding, verdict),
        );
      continue;
    }
    // Unknown to Redis, yet ended in the ledger (revoked, and Redis lost before its binding went): it goes,
    // and is never rebuilt. An unreadable ledger leaves it to the binding's own expiry, as before.
    const why =
      bindingVerdict(binding, grant, now) ??
      (!grant && (await endedInLedger(deps, binding.grantId).catch(() => false))
        ? 'grant ended (ledger)'
        : undefined);
    if (!why) {
      live.push(binding);
      // What a key rotation waits on (seal-keys-census.ts); another installation rotates its own keys.
      const key = sealKeyId(binding.seal);
      if (key && binding.expiresAt > now && !isOtherInstallation(installation, binding))
        census.seals.push({ key, expiresAt: binding.expiresAt });
      // Its record is the other installation's to keep (its Redis, its App Home): only ours are rebuilt.
      if (!grant && !isOtherInstallation(installation, binding))
        await guarded(report, `${cluster}/${binding.namespace}/${binding.name}`, () =>
          rebuildGrant(deps, report, cluster, binding),
        );
      continue;
    }
    const where = `${cluster}/${binding.namespace}/${binding.name}`;
    if (grant?.status === 'active' && (grant.expiresAt ?? 0) > now) {
      // The sealed expiry passed but Redis says later: Redis was written by something else (extensions
      // move the cluster first). The sealed end wins: end it through the state machine.
      report.grantsEnded.push(grant.id);
      if (!report.dryRun)
        await guarded(report, where, async () => {
          await endGrant(deps, grant.id, 'expired', 'system');
          await revokeGrant(deps, grant.id);
        });
      continue;
    }
    // Grants Redis still tracks as live are ended through the state machine (sweepStore did that).
    if (grant && (grant.status === 'active' || grant.status === 'revoking')) continue;
    report.bindingsRemoved.push({ cluster, namespace: binding.namespace, grantId: binding.grantId, why });
    if (report.dryRun) continue;
    await guarded(report, where, async () => {
      // Also when Redis lost the grant: its end is recorded, so a restored record cannot be replayed.
      await endedThen(deps, { id: binding.grantId }, { reason: why, by: 'system' }, () =>
        removeTrace(deps, backends, traceFromBinding(cluster, binding)),
      );
    });
  }
  census.clusters.add(cluster);
  if (backends.mapping.mode === 'none') return;

  // Shared identities: any role or mapping entry under our path that no sealed live RoleBinding needs
  // is taken away; nothing found here is ever created, renewed or mapped. Roles are judged by their
  // ARN, not by their tags (anyone with iam:TagRole on our path could write those).
  const ourPath = personalRolePath(deps.policy.settings.iamPath, cluster);
  const neededRoles = new Set(live.flatMap((b) => (b.roleArn ? [b.roleArn] : [])));
  const roles = await backends.iam.listRoles(ourPath);
  const recentRoles = new Set(roles.filter((r) => r.createdAt > now - IN_FLIGHT_MS).map((r) => r.arn));
  for (const role of roles) {
    if (recentRoles.has(role.arn) || neededRoles.has(role.arn)) continue;
    report.identitiesRemoved.push({
      cluster,
      username: role.username ?? role.name,
      why: 'no sealed live RoleBinding needs it',
    });
    if (report.dryRun) continue;
    await guarded(report, `${cluster}/${role.name}`, () => retireUnneeded(deps, backends, cluster, role));
  }
  // An aws-auth entry names its role without the path, so roles are compared with sameRole.
  const kept = [...live.flatMap((b) => (b.roleArn ? [b.roleArn] : [])), ...roles.map((r) => r.arn)];
  const entries = await backends.mapping.list();
  const total = backends.mapping.entriesSeen?.();
  if (total !== undefined) report.accessEntries.push({ cluster, total });
  const { formerMapping } = backends;
  const former = formerMapping ? await formerMapping.list() : [];
  for (const [entry, from] of [
    ...entries.map((e) => [e, backends.mapping] as const),
    ...(formerMapping ? former.map((e) => [e, formerMapping] as const) : []),
  ]) {
    // Needed by a sealed live binding, in use, young or handled with its role above.
    if (kept.some((arn) => sameRole(arn, entry.roleArn))) continue;
    if (report.dryRun) {
      report.mappingsRemoved.push({ cluster, roleArn: entry.roleArn });
      continue;
    }
    await guarded(report, `${cluster}/${entry.roleArn}`, async () => {
      if (await removeUnneededMapping(deps, backends, cluster, entry.roleArn, from))
        report.mappingsRemoved.push({ cluster, roleArn: entry.roleArn });
    });
  }
  if (backends.mapping.mode === 'aws-auth')
    await migrateMappings(deps, report, cluster, backends, live, entries);
  await removeStaleEntries(deps, report, cluster, backends, roles, entries);
}

/** How long after a role's creation the reconciler still compares its access entry's age with it. */
export const STALE_ENTRY_WINDOW_MS = 15 * 60_000;

/**
 * Access entries older than their role: someone deleted a personal role by hand and created it again
 * under the same ARN. EKS bound the entry to the old role's unique id, so it maps nobody and the person
 * cannot log in; removing it takes nothing away, and the next activation writes a working one (as
 * activation does when it creates a role itself). Only roles created since the last few sweeps are
 * compared (one Describe each), and only after activation's own window (IN_FLIGHT_MS), under the role's
 * identity lock: activation creates role and entry in that order, under that lock.
 */
async function removeStaleEntries(
  deps: EngineDeps,
  report: ReconcileReport,
  cluster: string,
  backends: ClusterBackends,
  roles: readonly ManagedRole[],
  entries: readonly MappingEntry[],
): Promise<void> {
  const { mapping } = backends;
  if (!mapping.entryCreatedAt) return;
  const now = deps.clock.now();
  for (const role of roles) {
    const age = now - role.createdAt;
    if (age < IN_FLIGHT_MS || age > STALE_ENTRY_WINDOW_MS) continue;
    const entry = entries.find((e) => sameRole(e.roleArn, role.arn));
    if (!entry) continue;
    await guarded(report, `${cluster}/${entry.roleArn}`, () =>
      withLockOn(deps, roleIdentityLockKey(cluster, role.name), async () => {
        const created = await mapping.entryCreatedAt?.(entry.roleArn);
        // Compared in whole seconds: IAM dates a role to the second, so an entry made in the same second as
        // its role must not look older than it.
        const second = (ms: number) => Math.floor(ms / 1000);
        if (created === undefined || second(created) >= second(role.createdAt)) return;
        report.mappingsRemoved.push({ cluster, roleArn: entry.roleArn });
        if (!report.dryRun) await backends.mapping.remove(entry.roleArn);
      }),
    );
  }
}

/**
 * Entries of ours written with the role's path (before the path-less fix) match no session. One that a
 * live grant needs is rewritten path-less by syncIdentity, the same write activation makes. Only a grant
 * Redis holds as `active` with a valid decision seal (an approval), behind a sealed binding, can cause
 * it, for its own person: cluster state alone never makes a mapping work.
 */
async function migrateMappings(
  deps: EngineDeps,
  report: ReconcileReport,
  cluster: string,
  backends: ClusterBackends,
  live: readonly ManagedBinding[],
  entries: readonly MappingEntry[],
): Promise<void> {
  for (const entry of entries) {
    if (roleOf(entry.roleArn)?.path === '/') continue;
    for (const binding of live.filter((b) => b.roleArn && sameRole(b.roleArn, entry.roleArn))) {
      const grant = await deps.store.get(binding.grantId).catch(() => undefined);
      if (grant?.status !== 'active' || grant.cluster !== cluster) continue;
      if (verifyDecisionSeal(deps.seal, grant, grant.decisionSeal) !== 'valid') continue;
      const person: Person = {
        cluster,
        username: grant.requester.kubernetesUsername,
        principalArn: grant.requester.principalArn,
      };
      report.mappingsMigrated.push({ cluster, roleArn: entry.roleArn, grantId: grant.id });
      if (report.dryRun) break;
      await guarded(report, `${cluster}/${entry.roleArn}`, async () => {
        await withIdentityLock(deps, person, () => syncIdentity(deps, backends, person, { mode: 'grant' }));
        await audit(deps, grant, 'mapping-migrated', 'system', { from: entry.roleArn });
      });
      break;
    }
  }
}

/**
 * Retires a role of ours that no sealed live binding named when the sweep listed them: under the
 * role's identity lock the need is read again (an activation may have just written its binding).
 */
async function retireUnneeded(
  deps: EngineDeps,
  backends: ClusterBackends,
  cluster: string,
  role: ManagedRole,
): Promise<void> {
  await unlessStillNeeded(deps, backends, cluster, role.arn, (now) =>
    // The closed trust names the account root, which always exists: a tag could name anything.
    retireIdentity(deps, backends, role, `arn:aws:iam::${accountOf(role.arn)}:root`, now),
  );
}

/**
 * Removes a mapping entry (from the cluster's mapping, or the aws-auth an auto cluster moved on from) that
 * looked unneeded when the sweep listed bindings and roles. The lists are
 * older than the entry list: an activation may have written its RoleBinding, role and entry in between
 * (role before entry, under the role's identity lock). So the entry goes only under that same lock,
 * after the bindings are read again, exactly as a role is retired. Returns whether it was removed.
 */
function removeUnneededMapping(
  deps: EngineDeps,
  backends: ClusterBackends,
  cluster: string,
  roleArn: string,
  from: Pick<ClusterBackends['mapping'], 'remove'>,
): Promise<boolean> {
  return unlessStillNeeded(deps, backends, cluster, roleArn, () => from.remove(roleArn));
}

/**
 * Under the role's identity lock (the one activation holds while it writes role and mapping), reads
 * the bindings again and runs `takeAway` only when no sealed live binding names the role. Returns
 * whether it ran.
 */
function unlessStillNeeded(
  deps: EngineDeps,
  backends: ClusterBackends,
  cluster: string,
  roleArn: string,
  takeAway: (now: number) => Promise<void>,
): Promise<boolean> {
  const roleName = roleOf(roleArn)?.name ?? roleArn;
  return withLockOn(deps, roleIdentityLockKey(cluster, roleName), async () => {
    const now = deps.clock.now();
    const bindings = await backends.rbac.listBindings();
    const needed = bindings.some(
      (b) =>
        b.roleArn !== undefined &&
        sameRole(b.roleArn, roleArn) &&
        b.expiresAt > now &&
        isSealed(deps, cluster, b),
    );
    if (!needed) await takeAway(now);
    return !needed;
  });
}

/** An `approved` record of a grant the ledger says ended: audited as a replay and failed, nothing written. */
async function refuseEndedActivation(deps: EngineDeps, grantId: string): Promise<void> {
  const grant = await deps.store.get(grantId);
  if (grant?.status !== 'approved') return;
  await audit(deps, grant, 'replayed-decision', 'system', { why: 'ended', auditVersion: 1 });
  await failActivation(
    deps,
    grantId,
    forbidden(`Request ${grantId} cannot be activated: it has already ended`, 'Nothing was written.'),
    { cleanUp: false },
  );
}

function traceFromBinding(cluster: string, binding: ManagedBinding): GrantTrace {
  return {
    grantId: binding.grantId,
    cluster,
    namespace: binding.namespace,
    username: binding.username,
    principalArn: binding.principalArn,
    ...(binding.roleRef.kind === 'Role' ? { keptRole: binding.roleRef.name } : {}),
  };
}
