// RoleBindings that look like ours (our labels) but whose seal does not verify: written by someone
// with RoleBinding write access, not by the worker. They count for nothing in any decision. The
// reconciler reports each once; only an admin deletes them (`eks-access grants forged --delete`), since
// the bot cannot know whether the namespace's owners meant the object for something else.
// A report names what the object really grants (its subjects, its roleRef and that role's rules) first;
// what its labels and annotations claim (a username, a grant id, an expiry copied from a real grant)
// is kept apart as `claimed…`, so nobody reading the trail blames the person it was copied from.

import type { PolicyRule } from '../config/policy.js';
import { isOtherInstallation } from '../domain/names.js';
import type { SealVerdict } from '../domain/seal.js';
import type { ClusterBackends, ManagedBinding } from '../ports/cluster.js';
import type { EngineDeps } from './deps.js';
import { sealVerdict } from './sealed-bindings.js';

export interface ForgedBinding {
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  grantId: string;
  /** What its labels and annotations claim (never used for a decision; cut to 200 characters). */
  claims: { username: string; principalArn: string; expiresAt: string };
  /** What the object really grants: who it binds (`kind:name`) and to which role (`kind/name`). */
  actual: { subjects: string[]; roleRef: string };
  verdict: SealVerdict;
}

/** Version of the `forged-binding` audit event's details (2: the actual subjects, roleRef and rules). */
export const FORGED_EVENT_VERSION = 2;

export function forgedFinding(cluster: string, b: ManagedBinding, verdict: SealVerdict): ForgedBinding {
  return {
    cluster,
    namespace: b.namespace,
    name: b.name,
    uid: b.uid,
    grantId: b.grantId.slice(0, 64),
    claims: {
      username: b.username.slice(0, 200),
      principalArn: b.principalArn.slice(0, 200),
      expiresAt: Number.isFinite(b.expiresAt) ? new Date(b.expiresAt).toISOString() : 'unreadable',
    },
    actual: {
      subjects: (b.subjects ?? []).map((s) =>
        `${s.kind}:${s.namespace ? `${s.namespace}/` : ''}${s.name}`.slice(0, 200),
      ),
      roleRef: `${b.roleRef.kind}/${b.roleRef.name}`.slice(0, 200),
    },
    verdict,
  };
}

/** A role's rules in a line: `get,list secrets; create jobs.batch` (cut to 500 characters). */
export function describeRules(rules: readonly PolicyRule[]): string {
  if (rules.length === 0) return 'none';
  return rules
    .map((r) => {
      const resources = r.resources;
      const groups = r.apiGroups.filter((g) => g !== '');
      const named = r.resourceNames ? ` named ${r.resourceNames.join(',')}` : '';
      const where = resources.flatMap((res) =>
        groups.length > 0 ? groups.map((g) => `${res}.${g}`) : [res],
      );
      return `${r.verbs.join(',')} ${where.join(',')}${named}`;
    })
    .join('; ')
    .slice(0, 500);
}

/** What the role a binding names may do, read from the cluster (never from the binding's claims). */
async function rulesOf(backends: ClusterBackends, namespace: string, roleRef: ManagedBinding['roleRef']) {
  const rules =
    roleRef.kind === 'ClusterRole'
      ? await backends.rbac.clusterRoleRules(roleRef.name)
      : roleRef.kind === 'Role'
        ? await backends.rbac.roleRules(namespace, roleRef.name)
        : undefined;
  return rules ? describeRules(rules) : 'unknown (the role does not exist or the worker may not read it)';
}

/** Audit event `forged-binding` (details version 2) and a warning log line, once per object (by uid). */
export async function reportForged(
  deps: EngineDeps,
  cluster: string,
  binding: ManagedBinding,
  verdict: SealVerdict,
): Promise<void> {
  const finding = forgedFinding(cluster, binding, verdict);
  const backends = await deps.clusters.forCluster(cluster);
  const rules = await rulesOf(backends, finding.namespace, binding.roleRef).catch(
    () => 'unknown (the role could not be read)',
  );
  const first = await deps.audit.appendOnce(
    {
      action: 'forged-binding',
      actor: 'system',
      // Not the grant it claims: the object is nobody's grant, and the trail of that grant stays its own.
      grantId: '',
      at: deps.clock.now(),
      details: {
        v: FORGED_EVENT_VERSION,
        cluster,
        namespace: finding.namespace,
        name: finding.name,
        uid: finding.uid,
        verdict,
        subjects: finding.actual.subjects.join(', ') || 'none',
        roleRef: finding.actual.roleRef,
        rules,
        claimedGrantId: finding.grantId,
        claimedUsername: finding.claims.username,
        claimedPrincipal: finding.claims.principalArn,
        claimedExpiry: finding.claims.expiresAt,
      },
    },
    `forged:${cluster}:${finding.namespace}:${finding.name}:${finding.uid}`,
  );
  if (first) {
    deps.logger.warn(
      {
        event: 'forged-binding',
        cluster,
        namespace: finding.namespace,
        name: finding.name,
        verdict,
        subjects: finding.actual.subjects,
        roleRef: finding.actual.roleRef,
      },
      'a RoleBinding looks like ours but its seal does not verify; ignored (eks-access grants forged lists it)',
    );
  }
}

/** Every look-alike on every cluster of the policy (a cluster that cannot be read is in `errors`). */
export async function findForged(
  deps: EngineDeps,
): Promise<{ forged: ForgedBinding[]; errors: { cluster: string; message: string }[] }> {
  const forged: ForgedBinding[] = [];
  const errors: { cluster: string; message: string }[] = [];
  for (const cluster of Object.keys(deps.policy.clusters)) {
    try {
      const backends = await deps.clusters.forCluster(cluster);
      for (const binding of await backends.rbac.listBindings()) {
        const verdict = sealVerdict(deps, cluster, binding);
        if (verdict !== 'valid' && !isOtherInstallation(deps.policy.settings.installation, binding))
          forged.push(forgedFinding(cluster, binding, verdict));
      }
    } catch (error) {
      errors.push({ cluster, message: error instanceof Error ? error.message : String(error) });
    }
  }
  return { forged, errors };
}

/**
 * An admin's decision: deletes each look-alike found, only the very object reported (uid
 * precondition: one replaced since is left alone), with an audit event naming who asked.
 */
export async function deleteForged(
  deps: EngineDeps,
  actor: string,
): Promise<{ deleted: ForgedBinding[]; errors: { cluster: string; message: string }[] }> {
  const { forged, errors } = await findForged(deps);
  const deleted: ForgedBinding[] = [];
  for (const finding of forged) {
    try {
      const backends = await deps.clusters.forCluster(finding.cluster);
      await backends.rbac.deleteRoleBinding(finding.namespace, finding.name, { uid: finding.uid });
      deleted.push(finding);
      await deps.audit.append({
        action: 'forged-binding-deleted',
        actor,
        grantId: finding.grantId,
        at: deps.clock.now(),
        details: {
          cluster: finding.cluster,
          namespace: finding.namespace,
          name: finding.name,
          uid: finding.uid,
        },
      });
    } catch (error) {
      errors.push({
        cluster: finding.cluster,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return { deleted, errors };
}
