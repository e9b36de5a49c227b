// The reconciler on a cluster of access-policy levels, from the EKS API alone (no Kubernetes access):
// our access entries, their sealed grant tags and associations, and our roles under the cluster's path.
// As for RoleBindings, what is found only ever takes access away: a tag whose grant expired or ended
// loses its namespace (engine/access-policy-grants.ts removePolicyGrant), and an entry or role no sealed
// live tag needs is retired. Grants Redis still tracks as live are ended by the store sweep instead.
// A live sealed tag whose grant Redis lost is rebuilt into a record (engine/rebuild.ts), as a binding is.

import { readGrantTags } from '../domain/access-policy-tags.js';
import { roleOf } from '../domain/arn.js';
import { LIVE_STATUSES } from '../domain/grant.js';
import { accountOf, personalRolePath } from '../domain/names.js';
import type { AccessPolicyEntries, ClusterBackends, PolicyEntry } from '../ports/cluster.js';
import { narrowAssociations, removePolicyGrant, unexplainedAssociations } from './access-policy-grants.js';
import type { EngineDeps } from './deps.js';
import { retireIdentity, roleIdentityLockKey, withLockOn } from './identity-sync.js';
import { endedInLedger, endedThen } from './ledger.js';
import { rebuildFrom } from './rebuild.js';
import type { ReconcileReport } from './reconcile.js';

/** An activation this young may still be writing its entry, tag and association. */
const IN_FLIGHT_MS = 2 * 60_000;

export async function sweepPolicyCluster(
  deps: EngineDeps,
  report: ReconcileReport,
  cluster: string,
  backends: ClusterBackends,
  guarded: (where: string, work: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const entries = backends.accessPolicies;
  if (!entries) return;
  const now = deps.clock.now();
  const liveRoles = new Set<string>();
  const listed = await entries.listOurs();
  for (const entry of listed) {
    const { sealed } = readGrantTags(deps.seal, cluster, entry);
    for (const tag of sealed) {
      const grant = await deps.store.get(tag.grantId);
      const tracked = grant !== undefined && LIVE_STATUSES.has(grant.status);
      const why =
        tag.expiresAt <= now
          ? 'expired'
          : grant && !tracked
            ? `grant ${grant.status}`
            : !grant && (await endedInLedger(deps, tag.grantId).catch(() => false))
              ? 'grant ended (ledger)'
              : undefined;
      if (!why || tracked) {
        if (tag.expiresAt > now) liveRoles.add(entry.roleArn);
        // Live, sealed, unknown to Redis (Redis lost its data): its record comes back, able only to end.
        if (!why && !grant)
          await guarded(`${cluster}/${tag.grantId}`, () =>
            rebuildFrom(deps, report, tag, 'access-entry-tag'),
          );
        continue;
      }
      report.bindingsRemoved.push({ cluster, namespace: tag.namespace, grantId: tag.grantId, why });
      if (report.dryRun) continue;
      await guarded(`${cluster}/${tag.grantId}`, () =>
        endedThen(deps, { id: tag.grantId }, { reason: why, by: 'system' }, async () => {
          await removePolicyGrant(deps, backends, { ...tag, grantId: tag.grantId });
        }),
      );
    }
  }
  await narrowUnexplained(deps, report, cluster, entries, listed, guarded);
  // Roles (and with them their entries) no sealed live tag needs, judged again under each role's lock.
  const roles = await backends.iam.listRoles(personalRolePath(deps.policy.settings.iamPath, cluster));
  for (const role of roles) {
    if (liveRoles.has(role.arn) || role.createdAt > now - IN_FLIGHT_MS) continue;
    report.identitiesRemoved.push({
      cluster,
      username: role.username ?? role.name,
      why: 'no sealed live grant tag needs it',
    });
    if (report.dryRun) continue;
    await guarded(`${cluster}/${role.name}`, () =>
      withLockOn(deps, roleIdentityLockKey(cluster, roleOf(role.arn)?.name ?? role.name), async () => {
        const at = deps.clock.now();
        const entry = await entries.read(role.arn);
        const needed = entry
          ? readGrantTags(deps.seal, cluster, entry).sealed.some((t) => t.expiresAt > at)
          : false;
        // The closed trust names the account root, which always exists: a tag could name anything.
        if (!needed)
          await retireIdentity(deps, backends, role, `arn:aws:iam::${accountOf(role.arn)}:root`, at);
      }),
    );
  }
}

/**
 * Associations on our entries wider than their sealed live grant tags give (added by someone with EKS
 * write rights: another namespace, a cluster-wide scope, a policy we never offer) are cut back, under the
 * person's identity lock, from the entry read again there. Only takes away: nothing found widens anything.
 */
async function narrowUnexplained(
  deps: EngineDeps,
  report: ReconcileReport,
  cluster: string,
  entries: AccessPolicyEntries,
  listed: readonly PolicyEntry[],
  guarded: (where: string, work: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const explaining = (entry: PolicyEntry) => readGrantTags(deps.seal, cluster, entry).sealed;
  for (const listedEntry of listed) {
    const now = deps.clock.now();
    if (unexplainedAssociations(listedEntry, explaining(listedEntry), now).length === 0) continue;
    const roleName = roleOf(listedEntry.roleArn)?.name ?? listedEntry.roleArn;
    await guarded(`${cluster}/${roleName}`, () =>
      withLockOn(deps, roleIdentityLockKey(cluster, roleName), async () => {
        const entry = await entries.read(listedEntry.roleArn);
        if (!entry) return;
        const at = deps.clock.now();
        const found = report.dryRun
          ? unexplainedAssociations(entry, explaining(entry), at)
          : await narrowAssociations(entries, entry, explaining(entry), at);
        for (const { policyArn, removed } of found)
          report.associationsNarrowed.push({ cluster, username: entry.username, policyArn, removed });
      }),
    );
  }
}
