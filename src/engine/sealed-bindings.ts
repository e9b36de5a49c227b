// The seal on the RoleBindings the worker writes: writing them sealed, and telling ours from forged ones.

import { ANNOTATIONS, LABELS, userLabelValue } from '../domain/names.js';
import { type AccessPlan, type RoleBindingManifest, requireRoleBinding } from '../domain/plan.js';
import { sealBinding, verifyFoundBinding } from '../domain/seal.js';
import type { ClusterBackends, ManagedBinding } from '../ports/cluster.js';
import type { EngineDeps } from './deps.js';
import type { Person } from './identity-sync.js';

/** Whether a found binding is one the worker wrote (see verifyFoundBinding). */
export const sealVerdict = (deps: Pick<EngineDeps, 'seal'>, cluster: string, binding: ManagedBinding) =>
  verifyFoundBinding(deps.seal, cluster, binding);

export const isSealed = (deps: Pick<EngineDeps, 'seal'>, cluster: string, binding: ManagedBinding) =>
  sealVerdict(deps, cluster, binding) === 'valid';

/** The plan's RoleBinding with the seal over what it grants: the only way our bindings are written. */
export function sealedRoleBinding(deps: Pick<EngineDeps, 'seal'>, plan: AccessPlan): RoleBindingManifest {
  const roleBinding = requireRoleBinding(plan);
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
