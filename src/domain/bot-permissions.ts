// What eks-access itself may do, derived from the policy, for each of its two processes:
// - the worker writes access (RoleBindings, kept Roles, personal IAM roles, identity mappings): its
//   Kubernetes RBAC per cluster and its IAM policy are the least that serves the policy;
// - the Slack-facing bot writes nothing outside Redis: no Kubernetes RBAC at all, and an IAM policy
//   that is empty unless the policy turns on the email lookup (then read-only IAM user listing).
// Because both are rendered (never hand-written), adding a namespace or a level never leaves them stale.
// One file, over the usual size, because the worker's RBAC and IAM policy and the bot's are rendered from
// one reading of the policy and reviewed together as each process's least privilege.
//
// Why each rule exists (see also docs/operations.md):
// - rolebindings/roles in each listed namespace: a grant is a RoleBinding, inline levels a kept Role.
// - `bind` by name on the ClusterRoles and kept Roles a namespace offers: the API server refuses to let
//   anyone bind a role whose permissions they do not hold, unless they have `bind` on that role.
// - kept Roles (levels with inline rules): by default (`settings.keptRoles: applied-by-admin`) the
//   platform team applies them from this same render, and the worker may only `get` and `bind` them by
//   name: it can neither write a Role nor widen one. With `written-by-worker` it writes them itself and
//   so holds `escalate` on roles in those namespaces (not limitable by name for create, see
//   namespaceRules): the wider mode, kept for installations that want it.
// - a ValidatingAdmissionPolicy (admission.ts next to this file) bounds what RoleBindings the worker may
//   write: an offered role, one User subject of the policy's username template.
// - aws-auth by name in kube-system (aws-auth clusters only).
// - cluster-wide: SubjectAccessReviews (verify grants; SelfSubjectAccessReviews for `doctor`),
//   read-only list/watch of RoleBindings (the reconciler finds our expired bindings with an empty
//   Redis), get of the granted ClusterRoles by name (to derive verification checks).

import {
  type ClusterPolicy,
  type KeptRolesMode,
  offersAccessPolicies,
  type Policy,
  type PolicyRule,
} from '../config/policy.js';
import { accessPolicyArn } from './access-policies.js';
import { partitionOfRegion } from './arn.js';
import { PROBE_SESSION_NAME, probesLogin } from './login-probe.js';
import {
  keptRoleName,
  LABELS,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  PERSONAL_ROLE_PREFIX,
  personalRolePath,
} from './names.js';

const RBAC = 'rbac.authorization.k8s.io';
const RBAC_V1 = `${RBAC}/v1` as const;

export interface RbacRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
export type BotSubject =
  | { kind: 'ServiceAccount'; name: string; namespace: string }
  | { kind: 'User'; name: string }
  | { kind: 'Group'; name: string };

interface Meta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RbacRoleObject {
  apiVersion: typeof RBAC_V1;
  kind: 'Role' | 'ClusterRole';
  metadata: Meta;
  rules: RbacRule[];
}
export interface RbacBindingObject {
  apiVersion: typeof RBAC_V1;
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  metadata: Meta;
  subjects: (BotSubject & { apiGroup?: string })[];
  roleRef: { apiGroup: typeof RBAC; kind: 'Role' | 'ClusterRole'; name: string };
}
export type RbacObject = RbacRoleObject | RbacBindingObject;

export interface BotRbac {
  cluster: string;
  /** The worker's own Roles and bindings (what `doctor` asks the API server about). */
  objects: RbacObject[];
  /**
   * The levels' kept Roles, for the platform team to apply (`applied-by-admin`; empty with
   * `written-by-worker`). Not the worker's permissions: the worker only binds them.
   */
  keptRoles: RbacRoleObject[];
  /** Things a reviewer must know (wider-than-ideal rules), printed by `eks-access rbac render`. */
  warnings: string[];
}

/** Which process's permissions: the Slack-facing bot (no writes) or the worker (every write). */
export const PERMISSION_ROLES = ['bot', 'worker'] as const;
export type PermissionRole = (typeof PERMISSION_ROLES)[number];

/** The Kubernetes username the worker's IAM role is mapped to on EKS clusters (access entry or aws-auth). */
export const WORKER_USERNAME = 'eks-access-worker';
/** Where the manifests deploy eks-access; each process has its own ServiceAccount. */
export const BOT_NAMESPACE = 'eks-access';
export const BOT_SERVICE_ACCOUNT = 'eks-access-bot';
export const WORKER_SERVICE_ACCOUNT = 'eks-access-worker';
export const WORKER_RBAC_NAME = 'eks-access-worker';

/**
 * Who the worker is on a cluster: in-cluster (kubeconfig connection) its ServiceAccount; through EKS its
 * IAM role, which an admin maps to the username `eks-access-worker` (no groups, no access policies).
 */
export function defaultWorkerSubject(cluster: ClusterPolicy): BotSubject {
  return 'kubeconfig' in cluster.connection
    ? { kind: 'ServiceAccount', name: WORKER_SERVICE_ACCOUNT, namespace: BOT_NAMESPACE }
    : { kind: 'User', name: WORKER_USERNAME };
}

export interface BotRbacOptions {
  subject?: BotSubject;
  /** Name of every object rendered (tests use unique names; production keeps the default). */
  name?: string;
}

const uniq = (items: Iterable<string>) => [...new Set(items)].sort();

interface NamespaceNeeds {
  clusterRoles: string[];
  keptRoles: string[];
}

function needsFor(policy: Policy, levels: readonly string[]): NamespaceNeeds {
  const clusterRoles: string[] = [];
  const keptRoles: string[] = [];
  for (const name of levels) {
    const level = policy.levels[name];
    if (!level) continue;
    if (level.clusterRole) clusterRoles.push(level.clusterRole);
    else keptRoles.push(keptRoleName(name));
  }
  return { clusterRoles: uniq(clusterRoles), keptRoles: uniq(keptRoles) };
}

/** The rules the worker needs inside one namespace that offers these levels. */
export function namespaceRules(needs: NamespaceNeeds, keptRoles: KeptRolesMode): RbacRule[] {
  const rules: RbacRule[] = [
    // The engine creates, replaces (update) and deletes RoleBindings and lists them to see whether a
    // kept Role is still in use. `create` cannot be limited by name; the rest could, but names are
    // per grant (eks-access-<grantId>) and unknown ahead.
    {
      apiGroups: [RBAC],
      resources: ['rolebindings'],
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
    },
  ];
  if (needs.keptRoles.length > 0 && keptRoles === 'applied-by-admin') {
    rules.push(
      // Read the kept Role (activation refuses when it is missing or differs from the policy) and bind
      // it although the worker does not hold its rules. No create/update/patch/delete/escalate on any
      // Role: what the worker can grant is what the platform team applied.
      { apiGroups: [RBAC], resources: ['roles'], verbs: ['get'], resourceNames: needs.keptRoles },
      { apiGroups: [RBAC], resources: ['roles'], verbs: ['bind'], resourceNames: needs.keptRoles },
    );
  } else if (needs.keptRoles.length > 0) {
    rules.push(
      { apiGroups: [RBAC], resources: ['roles'], verbs: ['create', 'list'] },
      {
        apiGroups: [RBAC],
        resources: ['roles'],
        verbs: ['delete', 'get', 'patch', 'update'],
        resourceNames: needs.keptRoles,
      },
      // Bind the kept Role although the bot does not hold its rules (the API server checks `bind` against
      // the roleRef's name, so this can be limited by name).
      { apiGroups: [RBAC], resources: ['roles'], verbs: ['bind'], resourceNames: needs.keptRoles },
      // Write the kept Role although the bot does not hold its rules. The API server checks `escalate`
      // against the request's name, which a create (POST to the collection) does not have: limited by
      // name, creating the Role is refused (test/int/ops-rbac.int.test.ts proved it). So `escalate` is
      // namespace-wide here; what the bot can then *bind* is still only the kept Roles above.
      { apiGroups: [RBAC], resources: ['roles'], verbs: ['escalate'] },
    );
  }
  if (needs.clusterRoles.length > 0) {
    rules.push({
      apiGroups: [RBAC],
      resources: ['clusterroles'],
      verbs: ['bind'],
      resourceNames: needs.clusterRoles,
    });
  }
  return rules;
}

const labels = () => ({ [MANAGED_BY_LABEL]: MANAGED_BY, 'app.kubernetes.io/component': 'bot-rbac' });

function subjectOf(subject: BotSubject): RbacBindingObject['subjects'][number] {
  return subject.kind === 'ServiceAccount' ? subject : { ...subject, apiGroup: RBAC };
}

function roleAndBinding(
  kind: 'Role' | 'ClusterRole',
  name: string,
  namespace: string | undefined,
  rules: RbacRule[],
  subject: BotSubject,
  why: string,
): RbacObject[] {
  const metadata = (): Meta => ({
    name,
    ...(namespace ? { namespace } : {}),
    labels: labels(),
    annotations: { 'eks-access.io/why': why },
  });
  return [
    { apiVersion: RBAC_V1, kind, metadata: metadata(), rules },
    {
      apiVersion: RBAC_V1,
      kind: kind === 'Role' ? 'RoleBinding' : 'ClusterRoleBinding',
      metadata: metadata(),
      subjects: [subjectOf(subject)],
      roleRef: { apiGroup: RBAC, kind, name },
    },
  ];
}

/**
 * Renders the worker's RBAC for one cluster of the policy (the bot needs none: it never talks to a
 * cluster). Pure; throws for an unknown cluster.
 */
export function renderWorkerRbac(policy: Policy, clusterName: string, options: BotRbacOptions = {}): BotRbac {
  const cluster = policy.clusters[clusterName];
  if (!cluster) {
    throw new Error(
      `cluster "${clusterName}" is not in the policy; clusters: ${Object.keys(policy.clusters).join(', ')}`,
    );
  }
  const subject = options.subject ?? defaultWorkerSubject(cluster);
  const name = options.name ?? WORKER_RBAC_NAME;
  const mode = policy.settings.keptRoles;
  const objects: RbacObject[] = [];
  const keptRoles: RbacRoleObject[] = [];
  const warnings: string[] = [];

  const exact = cluster.namespaces.filter((ns) => !ns.name.includes('*'));
  const patterns = cluster.namespaces.filter((ns) => ns.name.includes('*'));

  // Several entries may name the same namespace; merge their levels.
  const byNamespace = new Map<string, string[]>();
  for (const ns of exact) byNamespace.set(ns.name, [...(byNamespace.get(ns.name) ?? []), ...ns.levels]);
  for (const [namespace, levels] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b))) {
    objects.push(
      ...roleAndBinding(
        'Role',
        name,
        namespace,
        namespaceRules(needsFor(policy, levels), mode),
        subject,
        `grants in ${namespace}: levels ${uniq(levels).join(', ')}`,
      ),
    );
    if (mode === 'applied-by-admin') keptRoles.push(...keptRolesIn(policy, namespace, levels));
  }

  if (cluster.identityMapping === 'aws-auth' || cluster.identityMapping === 'auto') {
    objects.push(
      ...roleAndBinding(
        'Role',
        name,
        'kube-system',
        [
          {
            apiGroups: [''],
            resources: ['configmaps'],
            verbs: ['get', 'patch', 'update'],
            resourceNames: ['aws-auth'],
          },
          // Kubernetes cannot limit `create` by name (the name is not known before the object exists):
          // this lets the bot create other ConfigMaps in kube-system. Needed only when aws-auth is missing.
          { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
        ],
        subject,
        'identity mapping: the aws-auth ConfigMap',
      ),
    );
    warnings.push(
      `${clusterName}: create on configmaps in kube-system cannot be limited to aws-auth by name; ` +
        'drop that rule if aws-auth already exists and you want it tighter',
    );
  }

  const allLevels = cluster.namespaces.flatMap((ns) => ns.levels);
  const grantedClusterRoles = needsFor(policy, allLevels).clusterRoles;
  const clusterRules: RbacRule[] = [
    {
      apiGroups: ['authorization.k8s.io'],
      resources: ['subjectaccessreviews', 'selfsubjectaccessreviews'],
      verbs: ['create'],
    },
    // Read-only, everywhere: the reconciler must find expired bindings of ours even with an empty Redis.
    { apiGroups: [RBAC], resources: ['rolebindings'], verbs: ['list', 'watch'] },
  ];
  if (grantedClusterRoles.length > 0) {
    clusterRules.push({
      apiGroups: [RBAC],
      resources: ['clusterroles'],
      verbs: ['get'],
      resourceNames: grantedClusterRoles,
    });
  }
  const exactNames = uniq(byNamespace.keys());
  if (exactNames.length > 0) {
    // Activation checks the namespace exists before writing into it.
    clusterRules.push({
      apiGroups: [''],
      resources: ['namespaces'],
      verbs: ['get'],
      resourceNames: exactNames,
    });
  }

  if (patterns.length > 0) {
    const needs = needsFor(
      policy,
      patterns.flatMap((ns) => ns.levels),
    );
    clusterRules.push(...namespaceRules(needs, mode), {
      apiGroups: [''],
      resources: ['namespaces'],
      verbs: ['get'],
    });
    warnings.push(
      `${clusterName}: namespace patterns (${patterns.map((ns) => ns.name).join(', ')}) cannot be listed ahead, ` +
        'so the bot may write RoleBindings (and bind the roles above) in EVERY namespace of this cluster. ' +
        'List the namespaces by name to keep its RBAC namespaced.',
    );
    if (mode === 'applied-by-admin' && needs.keptRoles.length > 0) {
      warnings.push(
        `${clusterName}: the kept Roles (${needs.keptRoles.join(', ')}) of namespaces matching ${patterns.map((ns) => ns.name).join(', ')} ` +
          'cannot be rendered ahead: apply them in each such namespace (`eks-access rbac render --kept-roles-in <namespace>`), ' +
          'or a grant there is refused until you do',
      );
    }
  }
  objects.push(
    ...roleAndBinding('ClusterRole', name, undefined, clusterRules, subject, 'cluster-wide, read-mostly'),
  );
  return { cluster: clusterName, objects, keptRoles, warnings };
}

/** The kept Roles of these levels in one namespace, exactly as activation expects to find them. */
export function keptRolesIn(policy: Policy, namespace: string, levels: readonly string[]): RbacRoleObject[] {
  return uniq(levels).flatMap((level) => {
    const rules = policy.levels[level]?.rules;
    if (!rules) return [];
    return [
      {
        apiVersion: RBAC_V1,
        kind: 'Role' as const,
        metadata: {
          name: keptRoleName(level),
          namespace,
          labels: {
            [MANAGED_BY_LABEL]: MANAGED_BY,
            'app.kubernetes.io/component': 'kept-role',
            [LABELS.level]: level,
          },
          annotations: {
            'eks-access.io/why': `level ${level}: applied by the platform team, bound by the worker`,
          },
        },
        rules: rules.map(plainRule),
      },
    ];
  });
}

const plainRule = ({ resourceNames, ...rule }: PolicyRule): RbacRule => ({
  apiGroups: [...rule.apiGroups],
  resources: [...rule.resources],
  verbs: [...rule.verbs],
  ...(resourceNames ? { resourceNames: [...resourceNames] } : {}),
});

/**
 * Whether a live Role's rules are the policy's, order aside (the API server may reorder nothing, but an
 * admin's tool might): a wider Role is refused, and so is a narrower one, which would fail verification.
 */
export function sameRules(live: readonly PolicyRule[], wanted: readonly PolicyRule[]): boolean {
  const key = (rule: PolicyRule) =>
    JSON.stringify([
      [...rule.apiGroups].sort(),
      [...rule.resources].sort(),
      [...rule.verbs].sort(),
      [...(rule.resourceNames ?? [])].sort(),
    ]);
  const a = live.map(key).sort();
  const b = wanted.map(key).sort();
  return a.length === b.length && a.every((k, i) => k === b[i]);
}

/** One question for SelfSubjectAccessReview: may the bot do this? */
export interface BotPermissionCheck {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
}

/** Every (verb, resource, name) the rendered RBAC grants, for `doctor` to ask the API server about. */
export function botPermissionChecks(rbac: BotRbac): BotPermissionCheck[] {
  const checks: BotPermissionCheck[] = [];
  for (const object of rbac.objects) {
    if (object.kind !== 'Role' && object.kind !== 'ClusterRole') continue;
    for (const rule of object.rules) {
      for (const group of rule.apiGroups) {
        for (const resource of rule.resources) {
          for (const verb of rule.verbs) {
            for (const name of rule.resourceNames ?? [undefined]) {
              checks.push({
                verb,
                group,
                resource,
                ...(object.metadata.namespace ? { namespace: object.metadata.namespace } : {}),
                ...(name ? { name } : {}),
              });
            }
          }
        }
      }
    }
  }
  return checks;
}

// ───────────────────────────── IAM ─────────────────────────────

export interface IamStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}
export interface IamPolicyDocument {
  Version: '2012-10-17';
  Statement: IamStatement[];
}
export interface CrossAccountRole {
  roleArn: string;
  clusters: string[];
  /** Permissions policy for the assumed role (it does the IAM and EKS work for those clusters). */
  policy: IamPolicyDocument;
}
export interface BotIamPolicies {
  /**
   * The Slack-facing bot's role: only the read-only email lookup, and no statement at all (no role
   * needed) when the policy does not enable it.
   */
  bot: IamPolicyDocument;
  /** Attach to the worker's own role (IRSA / Pod Identity): every IAM and EKS write. */
  worker: IamPolicyDocument;
  /** One per distinct `connection.eks.assumeRoleArn` (assumed by the worker). */
  crossAccount: CrossAccountRole[];
}

/**
 * Managing personal roles. No PutRolePolicy or AttachRolePolicy: a personal role never carries
 * permissions (trust is the whole grant), and the bot must not be able to give it any. DeleteRolePolicy
 * and ListRolePolicies stay because IAM refuses DeleteRole while inline policies exist, and roles
 * retired by versions before this one may still carry their deny-older-sessions policy.
 */
export const ROLE_ACTIONS = [
  'iam:CreateRole',
  'iam:DeleteRole',
  'iam:DeleteRolePolicy',
  'iam:GetRole',
  'iam:ListRolePolicies',
  'iam:ListRoleTags',
  'iam:TagRole',
  'iam:UntagRole',
  'iam:UpdateAssumeRolePolicy',
];
/** No UpdateAccessEntry (a username cannot be constrained on it: a wrong one is deleted and re-created). */
export const ACCESS_ENTRY_ACTIONS = [
  'eks:CreateAccessEntry',
  'eks:DeleteAccessEntry',
  'eks:DescribeAccessEntry',
  'eks:ListAccessEntries',
  'eks:TagResource',
];

function clusterStatements(policy: Policy, names: readonly string[], sidSuffix: string): IamStatement[] {
  const clusters = names.map((name) => ({ name, c: policy.clusters[name] as ClusterPolicy }));
  const statements: IamStatement[] = [];
  const roleArns = uniq(
    clusters
      .filter(({ c }) => c.identityMapping !== 'none')
      .map(
        ({ name, c }) =>
          `arn:${partitionOfRegion(c.region)}:iam::${c.accountId}:role${personalRolePath(policy.settings.iamPath, name)}*`,
      ),
  );
  if (roleArns.length > 0) {
    statements.push(
      { Sid: `PersonalRoles${sidSuffix}`, Effect: 'Allow', Action: ROLE_ACTIONS, Resource: roleArns },
      // ListRoles has no resource-level permissions in IAM: it must be "*" (it reveals names and
      // paths only; the engine asks with PathPrefix = the policy's iamPath).
      { Sid: `ListRoles${sidSuffix}`, Effect: 'Allow', Action: ['iam:ListRoles'], Resource: ['*'] },
    );
  }
  // The login probe (domain/login-probe.ts): a session of a personal role, under the probe's session name
  // only; the role's trust lets it in only while the worker verifies.
  const probed = uniq(
    clusters
      .filter(({ c }) => probesLogin(c))
      .map(
        ({ name, c }) =>
          `arn:${partitionOfRegion(c.region)}:iam::${c.accountId}:role${personalRolePath(policy.settings.iamPath, name)}*`,
      ),
  );
  if (probed.length > 0) {
    statements.push({
      Sid: `ProbeLogins${sidSuffix}`,
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: probed,
      Condition: { StringEquals: { 'sts:RoleSessionName': PROBE_SESSION_NAME } },
    });
  }
  const eks = clusters.filter(({ c }) => 'eks' in c.connection);
  const arn = (c: ClusterPolicy, what: string) =>
    `arn:${partitionOfRegion(c.region)}:eks:${c.region}:${c.accountId}:${what}`;
  const eksName = (name: string, c: ClusterPolicy) =>
    ('eks' in c.connection && c.connection.eks.name) || name;
  if (eks.length > 0) {
    statements.push({
      Sid: `DescribeClusters${sidSuffix}`,
      Effect: 'Allow',
      Action: ['eks:DescribeCluster'],
      Resource: uniq(eks.map(({ name, c }) => arn(c, `cluster/${eksName(name, c)}`))),
    });
  }
  // auto may resolve to access entries on any EKS cluster that reads them.
  const entries = eks.filter(
    ({ c }) => c.identityMapping === 'access-entries' || c.identityMapping === 'auto',
  );
  for (const { name, c } of entries) {
    const suffix = `${sidSuffix}${entries.length > 1 ? sidOf(name) : ''}`;
    const cluster = eksName(name, c);
    // Personal roles live under <iamPath><cluster>/ and are named eksa-…: the entry of any other
    // principal (a person's own, an admin role, a node role) is out of reach.
    const personalRoles = `arn:${partitionOfRegion(c.region)}:iam::${c.accountId}:role${personalRolePath(policy.settings.iamPath, name)}${PERSONAL_ROLE_PREFIX}*`;
    // An access entry's ARN names its principal: …:access-entry/<cluster>/role/<account>/<role name>/<id>.
    const ourEntries = arn(c, `access-entry/${cluster}/role/${c.accountId}/${PERSONAL_ROLE_PREFIX}*/*`);
    statements.push(
      {
        Sid: `CreateAccessEntries${suffix}`,
        Effect: 'Allow',
        Action: ['eks:CreateAccessEntry'],
        Resource: [arn(c, `cluster/${cluster}`)],
        Condition: {
          ArnLike: { 'eks:principalArn': personalRoles },
          StringLike: { 'eks:username': usernamePattern(policy, c) },
          StringEquals: { 'eks:accessEntryType': 'STANDARD' },
          // ForAllValues holds for no groups at all; a placeholder no group is named after refuses any.
          'ForAllValues:StringEquals': { 'eks:kubernetesGroups': [NO_GROUP] },
        },
      },
      {
        Sid: `ManageOwnAccessEntries${suffix}`,
        Effect: 'Allow',
        Action: ['eks:DeleteAccessEntry', 'eks:DescribeAccessEntry', 'eks:TagResource'],
        Resource: [ourEntries],
      },
      {
        Sid: `ListAccessEntries${suffix}`,
        Effect: 'Allow',
        Action: ['eks:ListAccessEntries'],
        Resource: [arn(c, `cluster/${cluster}`)],
      },
    );
    statements.push(...accessPolicyStatements(policy, name, c, ourEntries, suffix));
  }
  return statements;
}

/**
 * Access-policy levels (issue #23): associate only the policies the cluster offers, only namespace-scoped
 * and only within the namespaces (and patterns) that offer them, on our entries only. A compromised worker
 * cannot associate a policy cluster-wide, nor one the policy file does not offer. Tags record the grants.
 */
function accessPolicyStatements(
  policy: Policy,
  name: string,
  c: ClusterPolicy,
  ourEntries: string,
  suffix: string,
): IamStatement[] {
  if (!offersAccessPolicies(policy, name)) return [];
  const offered = c.namespaces.flatMap((ns) =>
    ns.levels.flatMap((level) => {
      const accessPolicy = policy.levels[level]?.accessPolicy;
      return accessPolicy
        ? [{ namespace: ns.name, arn: accessPolicyArn(accessPolicy, partitionOfRegion(c.region)) }]
        : [];
    }),
  );
  return [
    {
      Sid: `AssociateAccessPolicies${suffix}`,
      Effect: 'Allow',
      Action: ['eks:AssociateAccessPolicy'],
      Resource: [ourEntries],
      Condition: {
        StringEquals: { 'eks:accessScope': 'namespace' },
        ArnEquals: { 'eks:policyArn': uniq(offered.map((o) => o.arn)) },
        'ForAllValues:StringLike': { 'eks:namespaces': uniq(offered.map((o) => o.namespace)) },
      },
    },
    {
      Sid: `ManageAccessPolicies${suffix}`,
      Effect: 'Allow',
      Action: [
        'eks:DisassociateAccessPolicy',
        'eks:ListAssociatedAccessPolicies',
        'eks:ListTagsForResource',
        'eks:UntagResource',
      ],
      Resource: [ourEntries],
    },
  ];
}

/** Named in the kubernetesGroups condition so that no real group matches it. */
const NO_GROUP = 'eks-access:no-groups';

const sidOf = (name: string) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');

/** The usernames this cluster's template can render, as an IAM wildcard: every `{…}` becomes `*`. */
function usernamePattern(policy: Policy, cluster: ClusterPolicy): string {
  const template = cluster.usernameTemplate ?? policy.settings.kubernetesUsername;
  return template.replace(/\{[^}]*\}/g, '*');
}

/** Where the durable archive lives (ARCHIVE_BUCKET, ARCHIVE_PREFIX); its bucket is in the processes' own account. */
export interface ArchiveLocation {
  bucket: string;
  prefix: string;
  /** aws unless the processes run in another partition (aws-cn, aws-us-gov). */
  partition?: string;
}

/**
 * The archive's statements: write once and read under the prefix, list only the prefix, and no delete of
 * any kind — the single-use ledger and the audit trail must not be erasable by eks-access itself.
 */
export function archiveStatements(archive: ArchiveLocation): IamStatement[] {
  const bucketArn = `arn:${archive.partition ?? 'aws'}:s3:::${archive.bucket}`;
  return [
    {
      Sid: 'ArchiveAppend',
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:GetObject'],
      Resource: [`${bucketArn}/${archive.prefix}*`],
    },
    {
      Sid: 'ArchiveList',
      Effect: 'Allow',
      Action: ['s3:ListBucket'],
      Resource: [bucketArn],
      Condition: { StringLike: { 's3:prefix': [`${archive.prefix}*`] } },
    },
  ];
}

/**
 * The bot's only AWS permission: appending its own audit records (and the break-glass index its uses go
 * to) to the archive. s3:PutObject on those two key prefixes, nothing else: it reads nothing, lists
 * nothing, deletes nothing. Its writes are conditional (never over an existing key); one that was not
 * (a compromised bot) only adds a version over a locked one, which `audit verify` reports as edited.
 */
export function botArchiveStatements(archive: ArchiveLocation): IamStatement[] {
  const bucketArn = `arn:${archive.partition ?? 'aws'}:s3:::${archive.bucket}`;
  return [
    {
      Sid: 'ArchiveAuditAppend',
      Effect: 'Allow',
      Action: ['s3:PutObject'],
      Resource: [
        `${bucketArn}/${archive.prefix}audit/*`,
        `${bucketArn}/${archive.prefix}index/break-glass/*`,
      ],
    },
  ];
}

/**
 * Renders the bot's and the worker's IAM policies (and one per cross-account role). Pure. With `archive`,
 * the worker also gets the durable archive's statements (archiveStatements), the bot only its audit
 * append (botArchiveStatements).
 */
export function renderIamPolicies(policy: Policy, archive?: ArchiveLocation): BotIamPolicies {
  const names = Object.keys(policy.clusters).sort();
  const assumed = new Map<string, string[]>();
  const direct: string[] = [];
  for (const name of names) {
    const c = policy.clusters[name] as ClusterPolicy;
    const roleArn = 'eks' in c.connection ? c.connection.eks.assumeRoleArn : undefined;
    if (roleArn) assumed.set(roleArn, [...(assumed.get(roleArn) ?? []), name]);
    else direct.push(name);
  }
  const statements = clusterStatements(policy, direct, '');
  const lookup: IamStatement[] = [];
  if (assumed.size > 0) {
    statements.push({
      Sid: 'AssumeClusterRoles',
      Effect: 'Allow',
      Action: ['sts:AssumeRole'],
      Resource: uniq(assumed.keys()),
    });
  }
  if (policy.identities.emailTag?.enabled) {
    // Email lookup: find the IAM user whose tag matches the Slack email (ListUsers is "*"-only in IAM).
    // The users live in the bot's own account, which the policy does not name.
    lookup.push(
      { Sid: 'EmailLookupList', Effect: 'Allow', Action: ['iam:ListUsers'], Resource: ['*'] },
      {
        Sid: 'EmailLookupTags',
        Effect: 'Allow',
        Action: ['iam:ListUserTags'],
        Resource: ['arn:aws:iam::*:user/*'],
      },
    );
  }
  const center = policy.identities.identityCenter;
  if (center?.enabled) {
    // Identity Center people: their user in the identity store, then the permission-set role in the
    // cluster's account (ListRoles has no resource-level permissions in IAM).
    lookup.push(
      {
        Sid: 'IdentityCenterUsers',
        Effect: 'Allow',
        Action: ['identitystore:ListUsers'],
        Resource: [
          `arn:aws:identitystore::*:identitystore/${center.identityStoreId}`,
          'arn:aws:identitystore:::user/*',
        ],
      },
      { Sid: 'IdentityCenterRoles', Effect: 'Allow', Action: ['iam:ListRoles'], Resource: ['*'] },
    );
  }
  // The API's caller check (docs/api.md): the current unique id of the IAM user or role STS named, so a
  // user or role deleted and created again under its old name is not taken for the old one. The bot only.
  const callerIds: IamStatement[] = policy.api?.enabled
    ? [
        {
          Sid: 'ApiCallerUniqueIds',
          Effect: 'Allow',
          Action: ['iam:GetUser', 'iam:GetRole'],
          Resource: uniq(
            (policy.api.accounts ?? Object.values(policy.clusters).map((c) => c.accountId)).flatMap(
              (account) => [`arn:aws:iam::${account}:user/*`, `arn:aws:iam::${account}:role/*`],
            ),
          ),
        },
      ]
    : [];
  const crossAccount = [...assumed].map(([roleArn, clusters]) => ({
    roleArn,
    clusters,
    policy: { Version: '2012-10-17' as const, Statement: clusterStatements(policy, clusters, '') },
  }));
  const archived = archive ? archiveStatements(archive) : [];
  const botArchived = archive ? botArchiveStatements(archive) : [];
  return {
    bot: { Version: '2012-10-17', Statement: [...lookup, ...callerIds, ...botArchived] },
    // The worker asks the same identity source again before it writes (issue #9: the requester's
    // principal must still be what it says), so it needs the same read-only lookup.
    worker: { Version: '2012-10-17', Statement: [...statements, ...lookup, ...archived] },
    crossAccount,
  };
}
