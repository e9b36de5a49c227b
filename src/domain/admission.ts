// A ValidatingAdmissionPolicy that bounds what the worker may write where RBAC cannot: RBAC lets it
// create RoleBindings in the listed namespaces and `bind` the offered roles, but says nothing about a
// binding's subjects (a Group, a ServiceAccount, many people at once) and lets it bind any role whose
// permissions it happens to hold. Kubernetes itself then refuses, for the worker's identity only, every
// RoleBinding that is not one the engine writes: an offered role of that namespace, bound to exactly one
// User whose name has the policy's username prefix. Rendered with the worker's RBAC (`rbac render`).
//
// What admission cannot bound: aws-auth. Its `mapRoles` is YAML inside a string, which CEL cannot
// parse, so a worker allowed to write aws-auth can map any role to any group (system:masters included).
// Access entries, whose writes IAM conditions bound, are the mode that keeps the worker small there.
import type { ClusterPolicy, Policy } from '../config/policy.js';
import {
  type BotRbacOptions,
  type BotSubject,
  defaultWorkerSubject,
  WORKER_RBAC_NAME,
} from './bot-permissions.js';
import { keptRoleName, MANAGED_BY, MANAGED_BY_LABEL, usernamePrefixOf } from './names.js';

const ADMISSION_V1 = 'admissionregistration.k8s.io/v1' as const;

export interface AdmissionPolicyObject {
  apiVersion: typeof ADMISSION_V1;
  kind: 'ValidatingAdmissionPolicy';
  metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: {
    failurePolicy: 'Fail';
    matchConstraints: {
      resourceRules: {
        apiGroups: string[];
        apiVersions: string[];
        operations: string[];
        resources: string[];
      }[];
    };
    matchConditions: { name: string; expression: string }[];
    variables: { name: string; expression: string }[];
    validations: { expression: string; messageExpression: string; reason: 'Forbidden' }[];
  };
}
export interface AdmissionBindingObject {
  apiVersion: typeof ADMISSION_V1;
  kind: 'ValidatingAdmissionPolicyBinding';
  metadata: { name: string; labels: Record<string, string> };
  spec: { policyName: string; validationActions: ['Deny'] };
}
export type AdmissionObject = AdmissionPolicyObject | AdmissionBindingObject;

/** A CEL string literal (single-quoted; backslashes and quotes escaped). */
const cel = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
const celList = (items: readonly string[]) => `[${items.map(cel).join(', ')}]`;
const celMap = (entries: [string, string[]][]) =>
  `{${entries.map(([key, values]) => `${cel(key)}: ${celList(values)}`).join(', ')}}`;

/** The request's user, as the worker's subject is seen by the API server. */
function whoIsTheWorker(subject: BotSubject): string {
  if (subject.kind === 'ServiceAccount') {
    return `request.userInfo.username == ${cel(`system:serviceaccount:${subject.namespace}:${subject.name}`)}`;
  }
  if (subject.kind === 'User') return `request.userInfo.username == ${cel(subject.name)}`;
  return `${cel(subject.name)} in request.userInfo.groups`;
}

/** `team-*` as an anchored RE2 expression over namespace names. */
const namespaceRegex = (pattern: string) => `^${pattern.replaceAll('*', '[-a-z0-9]*')}$`;

/** `Kind/name` of each role the levels bind, as the policy offers them. */
function offeredRoles(policy: Policy, levels: readonly string[]): string[] {
  const refs = levels.flatMap((name) => {
    const level = policy.levels[name];
    if (!level) return [];
    return [level.clusterRole ? `ClusterRole/${level.clusterRole}` : `Role/${keptRoleName(name)}`];
  });
  return [...new Set(refs)].sort();
}

function byNamespace(policy: Policy, cluster: ClusterPolicy, patterns: boolean): [string, string[]][] {
  const levels = new Map<string, string[]>();
  for (const ns of cluster.namespaces) {
    if (ns.name.includes('*') !== patterns) continue;
    const key = patterns ? namespaceRegex(ns.name) : ns.name;
    levels.set(key, [...(levels.get(key) ?? []), ...ns.levels]);
  }
  return [...levels]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, names]) => [key, offeredRoles(policy, names)]);
}

/**
 * The worker's admission policy and its binding for one cluster of the policy. Pure. The username
 * prefix is the literal start of the cluster's username template (empty when the template starts with a
 * placeholder: then only "one User" is enforced, and the warning says so).
 */
export function renderWorkerAdmission(
  policy: Policy,
  clusterName: string,
  options: BotRbacOptions = {},
): { objects: AdmissionObject[]; warnings: string[] } {
  const cluster = policy.clusters[clusterName];
  if (!cluster) throw new Error(`cluster "${clusterName}" is not in the policy`);
  const subject = options.subject ?? defaultWorkerSubject(cluster);
  const name = `${options.name ?? WORKER_RBAC_NAME}-rolebindings`;
  const prefix = usernamePrefixOf(cluster.usernameTemplate ?? policy.settings.kubernetesUsername);
  const labels = { [MANAGED_BY_LABEL]: MANAGED_BY, 'app.kubernetes.io/component': 'worker-admission' };
  const warnings =
    prefix === ''
      ? [
          `${clusterName}: the username template starts with a placeholder, so admission can only require one User subject, not a username prefix`,
        ]
      : [];
  const policyObject: AdmissionPolicyObject = {
    apiVersion: ADMISSION_V1,
    kind: 'ValidatingAdmissionPolicy',
    metadata: {
      name,
      labels,
      annotations: {
        'eks-access.io/why':
          'the eks-access worker writes only RoleBindings of an offered role to one person; rendered by `eks-access rbac render`',
      },
    },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ['rbac.authorization.k8s.io'],
            apiVersions: ['*'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['rolebindings'],
          },
        ],
      },
      matchConditions: [{ name: 'the-eks-access-worker', expression: whoIsTheWorker(subject) }],
      variables: [
        { name: 'offered', expression: celMap(byNamespace(policy, cluster, false)) },
        { name: 'patterns', expression: celMap(byNamespace(policy, cluster, true)) },
        { name: 'ref', expression: "object.roleRef.kind + '/' + object.roleRef.name" },
      ],
      validations: [
        {
          expression:
            '(request.namespace in variables.offered && variables.ref in variables.offered[request.namespace]) || ' +
            'variables.patterns.exists(p, request.namespace.matches(p) && variables.ref in variables.patterns[p])',
          messageExpression:
            "'the eks-access worker may bind only the roles the policy offers in ' + request.namespace + ', not ' + variables.ref",
          reason: 'Forbidden',
        },
        {
          expression:
            "has(object.subjects) && size(object.subjects) == 1 && object.subjects[0].kind == 'User' && " +
            `object.subjects[0].name.startsWith(${cel(prefix)})`,
          messageExpression: `'the eks-access worker may bind exactly one User whose name starts with ' + ${cel(JSON.stringify(prefix))}`,
          reason: 'Forbidden',
        },
      ],
    },
  };
  const binding: AdmissionBindingObject = {
    apiVersion: ADMISSION_V1,
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name, labels },
    spec: { policyName: name, validationActions: ['Deny'] },
  };
  return { objects: [policyObject, binding], warnings };
}
