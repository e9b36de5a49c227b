// EKS's managed access policies, as data: what each lets its holder do in Kubernetes terms. EKS evaluates
// them in its own authorizer (before RBAC), and publishes them nowhere but in its user guide, so the lists
// are written down here, from the Amazon EKS User Guide, "Review access policy permissions"
// (https://docs.aws.amazon.com/eks/latest/userguide/access-policy-permissions.html), as read in 2026-12.
// The policy validator knows the names from here, a grant's checks (the login probe's
// SelfSubjectAccessReviews) come from the rules, and the test platform's authorizer
// (test/platform/access-policy-authorizer.ts) enforces exactly these rules. When AWS changes a policy,
// this file is the one place to change.
import type { PolicyRule } from '../config/policy.js';

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'delete', 'deletecollection', 'patch', 'update'];

/** AmazonEKSViewPolicy: reads most namespaced objects, secrets excluded. */
const VIEW: PolicyRule[] = [
  {
    apiGroups: [''],
    resources: [
      'bindings',
      'configmaps',
      'endpoints',
      'events',
      'limitranges',
      'namespaces',
      'namespaces/status',
      'persistentvolumeclaims',
      'persistentvolumeclaims/status',
      'pods',
      'pods/log',
      'pods/status',
      'replicationcontrollers',
      'replicationcontrollers/scale',
      'replicationcontrollers/status',
      'resourcequotas',
      'resourcequotas/status',
      'serviceaccounts',
      'services',
      'services/status',
    ],
    verbs: READ,
  },
  {
    apiGroups: ['apps'],
    resources: [
      'controllerrevisions',
      'daemonsets',
      'daemonsets/status',
      'deployments',
      'deployments/scale',
      'deployments/status',
      'replicasets',
      'replicasets/scale',
      'replicasets/status',
      'statefulsets',
      'statefulsets/scale',
      'statefulsets/status',
    ],
    verbs: READ,
  },
  {
    apiGroups: ['autoscaling'],
    resources: ['horizontalpodautoscalers', 'horizontalpodautoscalers/status'],
    verbs: READ,
  },
  { apiGroups: ['batch'], resources: ['cronjobs', 'cronjobs/status', 'jobs', 'jobs/status'], verbs: READ },
  { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: READ },
  {
    apiGroups: ['extensions'],
    resources: [
      'daemonsets',
      'daemonsets/status',
      'deployments',
      'deployments/scale',
      'deployments/status',
      'ingresses',
      'ingresses/status',
      'networkpolicies',
      'replicasets',
      'replicasets/scale',
      'replicasets/status',
      'replicationcontrollers/scale',
    ],
    verbs: READ,
  },
  {
    apiGroups: ['networking.k8s.io'],
    resources: ['ingresses', 'ingresses/status', 'networkpolicies'],
    verbs: READ,
  },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets', 'poddisruptionbudgets/status'], verbs: READ },
];

/** AmazonEKSEditPolicy: the view policy, plus writes to workloads, config and secrets. */
const EDIT: PolicyRule[] = [
  // Writes first: a grant's checks are taken from the first rules (configmaps, then workloads).
  {
    apiGroups: [''],
    resources: [
      'configmaps',
      'events',
      'persistentvolumeclaims',
      'replicationcontrollers',
      'replicationcontrollers/scale',
      'secrets',
      'serviceaccounts',
      'services',
      'services/proxy',
    ],
    verbs: WRITE,
  },
  {
    apiGroups: [''],
    resources: ['pods', 'pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy'],
    verbs: WRITE,
  },
  {
    apiGroups: [''],
    resources: ['pods/attach', 'pods/exec', 'pods/portforward', 'pods/proxy', 'secrets', 'services/proxy'],
    verbs: READ,
  },
  { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] },
  {
    apiGroups: ['apps'],
    resources: [
      'daemonsets',
      'deployments',
      'deployments/rollback',
      'deployments/scale',
      'replicasets',
      'replicasets/scale',
      'statefulsets',
      'statefulsets/scale',
    ],
    verbs: WRITE,
  },
  { apiGroups: ['autoscaling'], resources: ['horizontalpodautoscalers'], verbs: WRITE },
  { apiGroups: ['batch'], resources: ['cronjobs', 'jobs'], verbs: WRITE },
  {
    apiGroups: ['extensions'],
    resources: [
      'daemonsets',
      'deployments',
      'deployments/rollback',
      'deployments/scale',
      'ingresses',
      'networkpolicies',
      'replicasets',
      'replicasets/scale',
      'replicationcontrollers/scale',
    ],
    verbs: WRITE,
  },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'networkpolicies'], verbs: WRITE },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: WRITE },
  ...VIEW,
];

/** AmazonEKSAdminPolicy: the edit policy, plus Roles and RoleBindings in its namespaces. */
const ADMIN: PolicyRule[] = [
  ...EDIT,
  { apiGroups: ['authorization.k8s.io'], resources: ['localsubjectaccessreviews'], verbs: ['create'] },
  {
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['rolebindings', 'roles'],
    verbs: [...READ, ...WRITE],
  },
];

export interface ManagedAccessPolicy {
  /** What the approval message and the plan say it is. */
  summary: string;
  rules: PolicyRule[];
  /** Non-resource URLs it allows (`*`: all). */
  nonResourceURLs?: string[];
}

export const MANAGED_ACCESS_POLICIES = {
  AmazonEKSViewPolicy: { summary: 'read most objects, secrets excluded', rules: VIEW },
  AmazonEKSEditPolicy: {
    summary: 'read, and write workloads, configmaps, secrets and services (no RBAC)',
    rules: EDIT,
  },
  AmazonEKSAdminPolicy: {
    summary: 'edit, plus Roles and RoleBindings in its namespaces',
    rules: ADMIN,
  },
  AmazonEKSAdminViewPolicy: {
    summary: 'read every resource, secrets included',
    rules: [{ apiGroups: ['*'], resources: ['*'], verbs: READ }],
  },
  AmazonEKSClusterAdminPolicy: {
    summary: 'everything (cluster-admin)',
    rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }],
    nonResourceURLs: ['*'],
  },
} as const satisfies Record<string, ManagedAccessPolicy>;

export type AccessPolicyName = keyof typeof MANAGED_ACCESS_POLICIES;
export const ACCESS_POLICY_NAMES = Object.keys(MANAGED_ACCESS_POLICIES) as AccessPolicyName[];

const ARN_PREFIX = 'cluster-access-policy/';

/** `arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy` (the account is literally `aws`). */
export const accessPolicyArn = (name: string, partition = 'aws'): string =>
  `arn:${partition}:eks::aws:${ARN_PREFIX}${name}`;

/** The managed policy an ARN names, or undefined (any partition). */
export function accessPolicyNameOf(arn: string): AccessPolicyName | undefined {
  const match = /^arn:aws[\w-]*:eks::aws:cluster-access-policy\/([A-Za-z]+)$/.exec(arn);
  const name = match?.[1];
  return name && name in MANAGED_ACCESS_POLICIES ? (name as AccessPolicyName) : undefined;
}

export const isAccessPolicyName = (name: string): name is AccessPolicyName => name in MANAGED_ACCESS_POLICIES;
