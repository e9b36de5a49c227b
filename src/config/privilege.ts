// What makes an access level privileged (it can escalate, write RBAC or read secrets, or is a
// ClusterRole known to be), and how many approvals that calls for: the rule the schema's checks, the
// approval rules and the operator's reports all apply.

import { MANAGED_ACCESS_POLICIES } from '../domain/access-policies.js';
import type { LevelPolicy, NamespacePolicy, PolicyRule } from './policy.js';

/** Verbs and resources that let a holder grant themselves more than the level itself says. */
const ESCALATING_VERBS = new Set(['bind', 'escalate', 'impersonate', '*']);
const RBAC_RESOURCES = new Set(['roles', 'rolebindings', 'clusterroles', 'clusterrolebindings', '*']);
const WRITE_VERBS = ['create', 'update', 'patch'];
const READ_VERBS = ['get', 'list', 'watch'];
/** Built-in ClusterRoles known to write RBAC or workloads, read secrets or impersonate service accounts. */
const PRIVILEGED_CLUSTER_ROLES = new Set(['cluster-admin', 'admin', 'edit']);
/**
 * Built-in ClusterRoles known to be harmless as shipped. They are aggregated (anyone who may write
 * ClusterRoles can add rules to them), so grants and `doctor` still check their live rules.
 */
const UNPRIVILEGED_CLUSTER_ROLES = new Set(['view']);

/**
 * The (group, resource, verbs) combinations that make a level privileged, with why. A rule matches
 * through wildcards too (`*` groups, resources or verbs, `pods/*`, `*\/exec`).
 */
const PRIVILEGED_ACCESS: readonly {
  groups: string[];
  resource: string;
  verbs: string[] | 'any';
  why: string;
}[] = [
  ...[
    ['', 'pods'],
    ['', 'replicationcontrollers'],
    ['apps', 'deployments'],
    ['apps', 'replicasets'],
    ['apps', 'statefulsets'],
    ['apps', 'daemonsets'],
    ['extensions', 'deployments'],
    ['extensions', 'replicasets'],
    ['extensions', 'daemonsets'],
    ['batch', 'jobs'],
    ['batch', 'cronjobs'],
  ].map(([group = '', resource = '']) => ({
    groups: [group],
    resource,
    verbs: WRITE_VERBS,
    why: `writes ${resource} (runs code as any service account in the namespace)`,
  })),
  {
    groups: [''],
    resource: 'pods/ephemeralcontainers',
    verbs: ['update', 'patch'],
    why: 'adds containers to running pods',
  },
  { groups: [''], resource: 'secrets', verbs: READ_VERBS, why: 'reads secrets' },
  // Any verb: older clients open exec/attach/port-forward streams with GET.
  { groups: [''], resource: 'pods/exec', verbs: 'any', why: 'pods/exec (runs commands in pods)' },
  { groups: [''], resource: 'pods/attach', verbs: 'any', why: 'pods/attach (joins running containers)' },
  { groups: [''], resource: 'pods/portforward', verbs: 'any', why: 'pods/portforward (reaches pod ports)' },
  { groups: [''], resource: 'nodes/proxy', verbs: 'any', why: 'nodes/proxy (talks to kubelets directly)' },
  { groups: [''], resource: 'serviceaccounts/token', verbs: ['create'], why: 'mints service-account tokens' },
];

function ruleCovers(
  r: PolicyRule,
  groups: readonly string[],
  resource: string,
  verbs: string[] | 'any',
): boolean {
  if (!r.apiGroups.some((g) => g === '*' || groups.includes(g))) return false;
  const [base, sub] = resource.split('/');
  const resources = new Set(r.resources);
  const resourceMatch =
    resources.has('*') ||
    resources.has(resource) ||
    (sub !== undefined && (resources.has(`${base}/*`) || resources.has(`*/${sub}`)));
  if (!resourceMatch) return false;
  return verbs === 'any' || r.verbs.some((v) => v === '*' || verbs.includes(v));
}

/**
 * Why a level is privileged (empty when it is not, or when it binds a ClusterRole whose rules are
 * not given: pass the live rules as `rules` for that). Pure; also used by `doctor` and activation.
 */
export function privilegeReasons(
  level: Pick<LevelPolicy, 'clusterRole' | 'rules'> & Partial<Pick<LevelPolicy, 'accessPolicy'>>,
): string[] {
  const reasons: string[] = [];
  // An access policy's rules are AWS's, known here (domain/access-policies.ts).
  // (An unknown name is the schema's to report; it contributes no rules here.)
  const managed = level.accessPolicy
    ? (MANAGED_ACCESS_POLICIES as Record<string, { rules: readonly PolicyRule[] } | undefined>)[
        level.accessPolicy
      ]
    : undefined;
  const rules = level.accessPolicy ? managed?.rules : level.rules;
  if (level.clusterRole && PRIVILEGED_CLUSTER_ROLES.has(level.clusterRole)) {
    reasons.push(
      `ClusterRole ${level.clusterRole} can write RBAC or workloads, read secrets or impersonate service accounts`,
    );
  }
  for (const r of rules ?? []) {
    for (const verb of r.verbs) if (ESCALATING_VERBS.has(verb)) reasons.push(`verb "${verb}"`);
    const writes = r.verbs.some((verb) => verb === '*' || WRITE_VERBS.includes(verb));
    for (const resource of r.resources) {
      if (RBAC_RESOURCES.has(resource) && writes) reasons.push(`writes ${resource}`);
    }
    for (const access of PRIVILEGED_ACCESS) {
      if (ruleCovers(r, access.groups, access.resource, access.verbs)) reasons.push(access.why);
    }
  }
  return [...new Set(reasons)];
}

/** A ClusterRole the validator cannot judge by name: only its live rules tell (doctor, each grant). */
export const needsLiveCheck = (level: Pick<LevelPolicy, 'clusterRole'>): boolean =>
  Boolean(level.clusterRole && !PRIVILEGED_CLUSTER_ROLES.has(level.clusterRole));

export function levelWarnings(
  name: string,
  level: Pick<LevelPolicy, 'clusterRole' | 'privileged'>,
): string[] {
  if (level.privileged || !level.clusterRole || !needsLiveCheck(level)) return [];
  if (UNPRIVILEGED_CLUSTER_ROLES.has(level.clusterRole)) return [];
  return [
    `level "${name}" binds ClusterRole ${level.clusterRole}, whose rules the policy cannot show: doctor and every grant read it from the cluster and refuse it if it is privileged`,
  ];
}

/** A privileged level needs at least this many approvals unless the level says otherwise. */
export const PRIVILEGED_MIN_APPROVALS = 2;

/** Approvals a request for this level in this namespace needs. */
export function requiredApprovalsFor(
  level: Pick<LevelPolicy, 'approvals' | 'privileged'>,
  namespace: Pick<NamespacePolicy, 'approvals'>,
): number {
  if (level.approvals !== undefined) return level.approvals;
  return level.privileged ? Math.max(PRIVILEGED_MIN_APPROVALS, namespace.approvals) : namespace.approvals;
}
