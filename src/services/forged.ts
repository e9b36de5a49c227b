// RoleBindings that look like ours (our labels) but whose seal does not verify: written by someone
// with RoleBinding write access, not by the worker. They count for nothing in any decision. The
// reconciler reports each once; only an admin deletes them (`eks-access grants forged --delete`), since
// the bot cannot know whether the namespace's owners meant the object for something else.
import type { SealVerdict } from '../domain/seal.js';
import type { ManagedBinding } from '../ports/cluster.js';
import { type EngineDeps, sealVerdict } from './engine.js';

export interface ForgedBinding {
  cluster: string;
  namespace: string;
  name: string;
  uid: string;
  grantId: string;
  /** What its labels and annotations claim (never used for a decision; cut to 200 characters). */
  claims: { username: string; principalArn: string; expiresAt: string };
  verdict: SealVerdict;
}

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
    verdict,
  };
}

/** Audit event `forged-binding` and a warning log line, once per object (by uid). */
export async function reportForged(
  deps: EngineDeps,
  cluster: string,
  binding: ManagedBinding,
  verdict: SealVerdict,
): Promise<void> {
  const finding = forgedFinding(cluster, binding, verdict);
  const first = await deps.audit.appendOnce(
    {
      action: 'forged-binding',
      actor: 'system',
      grantId: finding.grantId,
      at: deps.clock.now(),
      details: {
        cluster,
        namespace: finding.namespace,
        name: finding.name,
        uid: finding.uid,
        verdict,
        claimedUsername: finding.claims.username,
        claimedPrincipal: finding.claims.principalArn,
        claimedExpiry: finding.claims.expiresAt,
      },
    },
    `forged:${cluster}:${finding.namespace}:${finding.name}:${finding.uid}`,
  );
  if (first) {
    deps.logger.warn(
      { event: 'forged-binding', cluster, namespace: finding.namespace, name: finding.name, verdict },
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
        if (verdict !== 'valid') forged.push(forgedFinding(cluster, binding, verdict));
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
