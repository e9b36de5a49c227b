// What a grant creates, as data. The engine applies exactly this; the dry run shows exactly this.
import {
  isAccessPolicyLevel,
  type LevelPolicy,
  type Policy,
  type PolicyRule,
  privilegeReasons,
} from '../config/policy.js';
import { type AccessPolicyName, accessPolicyArn, MANAGED_ACCESS_POLICIES } from './access-policies.js';
import { authenticatorRoleArn, identityCenterSessionOf, partitionOfRegion } from './arn.js';
import type { IdentityMappingMode } from './auth-mode.js';
import { isoTime } from './clock.js';
import { ROLE_BINDING_FORMAT_VERSION } from './formats.js';
import type { Grant } from './grant.js';
import { type ProbeCaller, probeTrustStatement } from './login-probe.js';
import {
  ANNOTATIONS,
  IAM_TAGS,
  keptRoleName,
  LABELS,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type OwnMappings,
  personalRoleArn,
  personalRoleName,
  personalRolePath,
  roleBindingName,
  userLabelValue,
  usernamePrefixOf,
} from './names.js';

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RoleManifest {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'Role';
  metadata: ObjectMeta;
  rules: PolicyRule[];
}
export interface RoleBindingManifest {
  apiVersion: 'rbac.authorization.k8s.io/v1';
  kind: 'RoleBinding';
  metadata: ObjectMeta;
  subjects: { kind: 'User'; apiGroup: 'rbac.authorization.k8s.io'; name: string }[];
  roleRef: { apiGroup: 'rbac.authorization.k8s.io'; kind: 'Role' | 'ClusterRole'; name: string };
}
export interface TrustPolicy {
  Version: '2012-10-17';
  Statement: {
    Sid: string;
    Effect: 'Allow';
    Principal: { AWS: string };
    Action: string[];
    Condition: {
      DateLessThan: { 'aws:CurrentTime': string };
      /** Identity Center sessions only: the session name, case and all (see trustPolicyFor). */
      StringLike?: { 'aws:userid': string };
      /** The worker's login-probe statement only (domain/login-probe.ts). */
      ArnLike?: { 'aws:PrincipalArn': string[] };
      StringEquals?: { 'sts:RoleSessionName': string };
    };
  }[];
}
export interface PersonalRolePlan {
  name: string;
  path: string;
  arn: string;
  trustPolicy: TrustPolicy;
  tags: Record<string, string>;
}
export type MappingPlan =
  | { mode: 'aws-auth'; entry: { rolearn: string; username: string; groups: string[] } }
  | {
      mode: 'access-entries';
      entry: { principalArn: string; username: string; kubernetesGroups: string[]; type: 'STANDARD' };
    }
  | { mode: 'none'; username: string }
  /** `auto` planned without the cluster: which one applies depends on its authentication mode. */
  | {
      mode: 'auto';
      rule: string;
      awsAuth: { rolearn: string; username: string; groups: string[] };
      accessEntry: { principalArn: string; username: string; kubernetesGroups: string[]; type: 'STANDARD' };
    };

export interface AccessPlan {
  grantId: string;
  cluster: string;
  namespace: string;
  username: string;
  expiresAt: string;
  /** Absent for identityMapping `none`: people already authenticate as themselves. */
  personalRole?: PersonalRolePlan;
  mapping: MappingPlan;
  /** Present for levels with inline rules: the Role the bot keeps in the namespace. */
  role?: RoleManifest;
  /** Absent for access-policy levels, which write nothing into the cluster. */
  roleBinding?: RoleBindingManifest;
  /**
   * Access-policy levels: the association EKS applies to the person's access entry. One per person,
   * policy and cluster; its namespaces are those of the person's live grants of the policy, this one's
   * included (engine/access-policy-grants.ts).
   */
  accessPolicy?: AccessPolicyAssociation;
  /** The permissions verified with SubjectAccessReviews after applying (and gone after revoking). */
  checks: PermissionCheck[];
  /** What an approver must know before approving (a privileged level), in plain words. */
  warnings: string[];
}

/** An approver is told when a level lets its holder go beyond what it says, and how. */
export function levelWarningsFor(levelName: string, level: LevelPolicy): string[] {
  if (!level.privileged) return [];
  const reasons = privilegeReasons(level);
  const how = reasons.length > 0 ? reasons.slice(0, 4).join('; ') : 'marked privileged in the policy';
  return [
    `Privileged level ${levelName}: whoever holds it can act beyond it (${how}${reasons.length > 4 ? '; …' : ''}).`,
  ];
}
/** The plan's RoleBinding; for callers that only handle RBAC levels (an access-policy level has none). */
export function requireRoleBinding(plan: Pick<AccessPlan, 'roleBinding' | 'grantId'>): RoleBindingManifest {
  if (!plan.roleBinding) throw new Error(`plan ${plan.grantId}: an access-policy level has no RoleBinding`);
  return plan.roleBinding;
}

export interface AccessPolicyAssociation {
  name: AccessPolicyName;
  policyArn: string;
  /** Always namespace-scoped: a grant never associates a policy cluster-wide. */
  accessScope: { type: 'namespace'; namespaces: string[] };
}

export interface PermissionCheck {
  namespace: string;
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
}

/**
 * The personal role's trust: exactly `principalArn`, until `notAfter`. For an IAM Identity Center
 * session (`assumed-role/AWSReservedSSO_<set>_<hash>/<user name>`) the Principal is that one session
 * ARN, which only that person can hold: the permission-set role trusts nothing but Identity Center's
 * SAML provider, and Identity Center sets the session name to the user name. AWS matches principals
 * without regard to case, so `aws:userid` (`<role id>:<session name>`, compared case-sensitively by
 * StringLike) also pins the exact session name. Why a colleague cannot meet it: docs/engine.md,
 * "People who sign in through IAM Identity Center".
 */
export function trustPolicyFor(
  principalArn: string,
  notAfter: number,
  probe?: { caller: ProbeCaller; until: number },
): TrustPolicy {
  const session = identityCenterSessionOf(principalArn);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'EksAccessPersonalRole',
        Effect: 'Allow',
        Principal: { AWS: principalArn },
        Action: ['sts:AssumeRole'],
        // AWS itself refuses new sessions after this, even if eks-access is down.
        Condition: {
          DateLessThan: { 'aws:CurrentTime': isoTime(notAfter) },
          ...(session ? { StringLike: { 'aws:userid': `*:${session.userName}` } } : {}),
        },
      },
      // While the worker proves the login, and only then (domain/login-probe.ts).
      ...(probe ? [probeTrustStatement(probe.caller, probe.until)] : []),
    ],
  };
}

/** IAM's default quota for a role's trust policy (adjustable to 4 096; we stay within the default). */
export const TRUST_POLICY_MAX_CHARS = 2048;

/**
 * Why `trust` cannot be written, or undefined. IAM refuses a longer document only on the write, which
 * would leave a grant half-made; so activation asks first, with the probe's statement counted.
 */
export function trustPolicyTooLong(trust: TrustPolicy, max = TRUST_POLICY_MAX_CHARS): string | undefined {
  const length = JSON.stringify(trust).length;
  return length > max
    ? `the personal role's trust policy would be ${length} characters, over IAM's limit of ${max}`
    : undefined;
}

const RBAC = 'rbac.authorization.k8s.io' as const;

export function managedLabels(extra: Record<string, string> = {}): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, ...extra };
}

/** A handful of (verb, resource) pairs that prove the level works, taken from the level's rules. */
/**
 * Where well-known resources really live, so a rule listing several groups (the runbook's
 * ["", "apps", "batch", "extensions"]) is checked as `create jobs.batch`, the request kubectl makes,
 * rather than as `create jobs` in the core group, which the rule allows but nobody ever sends.
 */
const HOME_GROUP: Readonly<Record<string, string>> = {
  pods: '',
  services: '',
  configmaps: '',
  secrets: '',
  events: '',
  serviceaccounts: '',
  persistentvolumeclaims: '',
  deployments: 'apps',
  statefulsets: 'apps',
  daemonsets: 'apps',
  replicasets: 'apps',
  jobs: 'batch',
  cronjobs: 'batch',
  ingresses: 'networking.k8s.io',
  networkpolicies: 'networking.k8s.io',
};

function groupOf(resource: string, ruleGroups: readonly string[]): string {
  const home = HOME_GROUP[resource];
  if (home !== undefined && (ruleGroups.includes(home) || ruleGroups.includes('*'))) return home;
  return ruleGroups.find((g) => g !== '*') ?? '';
}

export function permissionChecks(namespace: string, level: LevelPolicy, limit = 6): PermissionCheck[] {
  if (isAccessPolicyLevel(level)) {
    // AWS's rules for the policy, as recorded (domain/access-policies.ts); a few are enough.
    const { rules } = MANAGED_ACCESS_POLICIES[level.accessPolicy];
    return permissionChecks(
      namespace,
      { ...level, accessPolicy: undefined, rules: rules.map((r) => ({ ...r })) },
      Math.min(limit, 3),
    );
  }
  if (level.clusterRole) {
    // We cannot know a ClusterRole's rules without reading it; "get" on itself is always granted for
    // view/edit/admin-like roles, the engine refines this by reading the ClusterRole.
    return [];
  }
  const checks: PermissionCheck[] = [];
  for (const rule of level.rules ?? []) {
    for (const resource of rule.resources) {
      if (resource.includes('*')) continue;
      const [base = resource, subresource] = resource.split('/');
      const group = groupOf(base, rule.apiGroups);
      for (const verb of rule.verbs) {
        if (verb === '*') continue;
        if (checks.length >= limit) return checks;
        // Spread checks across resources first: one verb per resource until the limit.
        if (checks.some((c) => c.resource === base && c.subresource === subresource)) break;
        checks.push({ namespace, verb, group, resource: base, ...(subresource ? { subresource } : {}) });
      }
    }
  }
  return checks;
}

/**
 * A person's role on a cluster, trusted until `expiresAt` (the latest expiry among their live grants
 * there). Shared by every grant of theirs on that cluster, which is why it takes no grant.
 */
export function personalRoleFor(
  policy: Policy,
  person: { cluster: string; principalArn: string; username: string; expiresAt: number },
  probe?: { caller: ProbeCaller; until: number },
): PersonalRolePlan {
  const cluster = policy.clusters[person.cluster];
  const accountId = cluster?.accountId ?? '';
  const partition = partitionOfRegion(cluster?.region ?? '');
  return {
    name: personalRoleName(person.cluster, person.principalArn),
    path: personalRolePath(policy.settings.iamPath, person.cluster),
    arn: personalRoleArn(accountId, policy.settings.iamPath, person.cluster, person.principalArn, partition),
    trustPolicy: trustPolicyFor(person.principalArn, person.expiresAt, probe),
    tags: {
      [IAM_TAGS.managedBy]: MANAGED_BY,
      [IAM_TAGS.cluster]: person.cluster,
      [IAM_TAGS.principal]: person.principalArn,
      [IAM_TAGS.username]: person.username,
      [IAM_TAGS.expiresAt]: isoTime(person.expiresAt),
    },
  };
}

/**
 * The identity-mapping entry for a personal role. aws-auth gets the path-less ARN, the only form the
 * authenticator matches (a session's ARN never carries the path); an access entry keeps the role's full
 * ARN, which is what EKS stores and matches it by.
 */
export function mappingPlan(
  mode: 'aws-auth' | 'access-entries',
  roleArn: string,
  username: string,
): MappingPlan {
  return mode === 'aws-auth'
    ? { mode, entry: awsAuthEntry(roleArn, username) }
    : { mode, entry: accessEntry(roleArn, username) };
}

const awsAuthEntry = (roleArn: string, username: string) => ({
  rolearn: authenticatorRoleArn(roleArn) ?? roleArn,
  username,
  groups: [] as string[],
});
const accessEntry = (roleArn: string, username: string) => ({
  principalArn: roleArn,
  username,
  kubernetesGroups: [] as string[],
  type: 'STANDARD' as const,
});

/** How eks-access recognises the mapping entries it wrote on one cluster of the policy. */
export function ownMappingsFor(policy: Policy, cluster: string): OwnMappings {
  return {
    accountId: policy.clusters[cluster]?.accountId ?? '',
    rolePath: personalRolePath(policy.settings.iamPath, cluster),
    usernamePrefix: usernamePrefixOf(policy.settings.kubernetesUsername),
  };
}

export interface PlanInput {
  policy: Policy;
  grant: Pick<Grant, 'id' | 'cluster' | 'namespace' | 'level' | 'requester'>;
  expiresAt: number;
  /** The mapping `auto` resolved to on the cluster, when known. */
  resolvedMapping?: IdentityMappingMode;
}

export function planGrant({ policy, grant, expiresAt, resolvedMapping }: PlanInput): AccessPlan {
  const cluster = policy.clusters[grant.cluster];
  const level = policy.levels[grant.level];
  if (!cluster || !level) throw new Error(`plan: ${grant.cluster}/${grant.level} is not in the policy`);
  const username = grant.requester.kubernetesUsername;
  const expiresIso = isoTime(expiresAt);

  let personalRole: PersonalRolePlan | undefined;
  let mapping: MappingPlan;
  if (cluster.identityMapping === 'none') {
    mapping = { mode: 'none', username };
  } else {
    personalRole = personalRoleFor(policy, {
      cluster: grant.cluster,
      principalArn: grant.requester.principalArn,
      username,
      expiresAt,
    });
    const mode = cluster.identityMapping === 'auto' ? resolvedMapping : cluster.identityMapping;
    if (mode === 'aws-auth' || mode === 'access-entries') {
      mapping = mappingPlan(mode, personalRole.arn, username);
    } else {
      mapping = {
        mode: 'auto',
        rule: 'access entries where the cluster authentication mode is API or API_AND_CONFIG_MAP, else aws-auth',
        awsAuth: awsAuthEntry(personalRole.arn, username),
        accessEntry: accessEntry(personalRole.arn, username),
      };
    }
  }

  // What every plan says, whatever the level gives.
  const common = {
    grantId: grant.id,
    cluster: grant.cluster,
    namespace: grant.namespace,
    username,
    expiresAt: expiresIso,
    ...(personalRole ? { personalRole } : {}),
    mapping,
    checks: permissionChecks(grant.namespace, level),
    warnings: levelWarningsFor(grant.level, level),
  };
  if (isAccessPolicyLevel(level)) {
    return {
      ...common,
      accessPolicy: {
        name: level.accessPolicy,
        policyArn: accessPolicyArn(level.accessPolicy, partitionOfRegion(cluster.region)),
        accessScope: { type: 'namespace', namespaces: [grant.namespace] },
      },
    };
  }

  const role: RoleManifest | undefined = level.rules
    ? {
        apiVersion: `${RBAC}/v1`,
        kind: 'Role',
        metadata: {
          name: keptRoleName(grant.level),
          namespace: grant.namespace,
          labels: managedLabels({ [LABELS.level]: grant.level }),
        },
        rules: level.rules.map((r) => ({ ...r })),
      }
    : undefined;

  const roleBinding: RoleBindingManifest = {
    apiVersion: `${RBAC}/v1`,
    kind: 'RoleBinding',
    metadata: {
      name: roleBindingName(grant.id),
      namespace: grant.namespace,
      labels: managedLabels({
        [LABELS.grantId]: grant.id,
        [LABELS.level]: grant.level,
        [LABELS.user]: userLabelValue(username),
        [LABELS.installation]: policy.settings.installation,
      }),
      annotations: {
        [ANNOTATIONS.requester]: grant.requester.slackUserId,
        [ANNOTATIONS.principalArn]: grant.requester.principalArn,
        [ANNOTATIONS.username]: username,
        [ANNOTATIONS.expiresAt]: expiresIso,
        [ANNOTATIONS.cluster]: grant.cluster,
        [ANNOTATIONS.format]: String(ROLE_BINDING_FORMAT_VERSION),
        ...(personalRole ? { [ANNOTATIONS.roleArn]: personalRole.arn } : {}),
      },
    },
    subjects: [{ kind: 'User', apiGroup: RBAC, name: username }],
    roleRef: role
      ? { apiGroup: RBAC, kind: 'Role', name: role.metadata.name }
      : { apiGroup: RBAC, kind: 'ClusterRole', name: level.clusterRole ?? '' },
  };

  return { ...common, ...(role ? { role } : {}), roleBinding };
}
