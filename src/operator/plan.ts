// The dry run: exactly what a grant would create or change, computed without touching anything.
import { stringify } from 'yaml';
import { kubernetesUsernameFor, type RequestInput, resolveRequest } from '../domain/decisions.js';
import { badInput } from '../domain/errors.js';
import type { Grant, Requester } from '../domain/grant.js';
import { type AccessPlan, planGrant } from '../domain/plan.js';
import { assertActivatable } from '../engine/activate.js';
import type { EngineDeps } from '../engine/deps.js';
import { checksFor } from '../engine/verify.js';

export interface PlannedGrant {
  plan: AccessPlan;
  /** The same as a reviewer reads it: trust policy JSON, mapping entry, Role/RoleBinding YAML. */
  text: {
    trustPolicy?: string;
    mapping: string;
    role?: string;
    roleBinding?: string;
    /** Access-policy levels: the AssociateAccessPolicy request (nothing is written into the cluster). */
    accessPolicy?: string;
  };
}

/** Without `clusters` the plan is computed offline (ClusterRole levels then have no derived checks). */
export type PlanDeps = Pick<EngineDeps, 'policy' | 'clock'> & Partial<Pick<EngineDeps, 'clusters'>>;

/** The plan of a stored grant; expiry as if it activated now. May read a ClusterRole to derive checks. */
export async function planForGrant(
  deps: PlanDeps,
  grant: Pick<
    Grant,
    'id' | 'cluster' | 'namespace' | 'level' | 'requester' | 'durationSeconds' | 'expiresAt'
  >,
  options: { readCluster?: boolean } = {},
): Promise<PlannedGrant> {
  const expiresAt = grant.expiresAt ?? deps.clock.now() + grant.durationSeconds * 1000;
  let plan = planGrant({ policy: deps.policy, grant, expiresAt });
  const level = deps.policy.levels[grant.level];
  if (options.readCluster !== false && level?.clusterRole && deps.clusters) {
    const backends = await deps.clusters.forCluster(grant.cluster);
    plan = { ...plan, checks: await checksFor(backends, plan, level) };
  }
  return { plan, text: render(plan) };
}

export interface PlanRequest extends RequestInput {
  requester: Omit<Requester, 'kubernetesUsername'> & { kubernetesUsername?: string };
}

/** `plan(request)`: validates like a real request (same errors) and returns what it would do. */
export async function plan(
  deps: PlanDeps,
  request: PlanRequest,
  options: { readCluster?: boolean } = {},
): Promise<PlannedGrant> {
  const resolved = resolveRequest(deps.policy, request);
  const kubernetesUsername =
    request.requester.kubernetesUsername ??
    kubernetesUsernameFor(deps.policy, resolved.cluster, request.requester);
  if (!kubernetesUsername) throw badInput('No Kubernetes username can be derived for this person');
  const grant = {
    id: 'ea-dryrun00',
    cluster: resolved.cluster,
    namespace: resolved.namespace,
    level: resolved.level,
    durationSeconds: resolved.durationSeconds,
    requester: { ...request.requester, kubernetesUsername },
  };
  assertActivatable(deps, grant as Grant);
  return planForGrant(deps, grant, options);
}

function mappingText(mapping: AccessPlan['mapping']): unknown {
  if (mapping.mode === 'none') return { username: mapping.username };
  if (mapping.mode === 'auto') {
    return { rule: mapping.rule, 'aws-auth': [mapping.awsAuth], 'access-entries': [mapping.accessEntry] };
  }
  return [mapping.entry];
}

function render(plan: AccessPlan): PlannedGrant['text'] {
  return {
    ...(plan.personalRole ? { trustPolicy: JSON.stringify(plan.personalRole.trustPolicy, null, 2) } : {}),
    mapping: stringify(mappingText(plan.mapping)),
    ...(plan.role ? { role: stringify(plan.role) } : {}),
    ...(plan.roleBinding ? { roleBinding: stringify(plan.roleBinding) } : {}),
    ...(plan.accessPolicy
      ? {
          accessPolicy: stringify({
            policyArn: plan.accessPolicy.policyArn,
            accessScope: plan.accessPolicy.accessScope,
            note: "the scope's namespaces are those of the person's live grants of this policy on the cluster",
          }),
        }
      : {}),
  };
}
