// Every name eks-access gives an object is derived from ids, so revocation (and the reconciler,
// with an empty Redis) can always find what a grant created.
import { createHash } from 'node:crypto';
import { parseArn, roleOf } from './arn.js';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'eks-access';
export const LABELS = {
  grantId: 'eks-access.io/grant-id',
  level: 'eks-access.io/level',
  /** Hash of the Kubernetes username: usernames contain ':' and '@', which labels cannot. */
  user: 'eks-access.io/user',
  /**
   * Which eks-access installation wrote the RoleBinding (policy `settings.installation`). Another
   * installation sharing the cluster (staging and production bots, two teams) leaves it alone: it neither
   * rebuilds its grant nor reports it as a look-alike. Bindings written before the label are everyone's.
   */
  installation: 'eks-access.io/installation',
} as const;

/** Whether `binding` was written by another installation than `mine` (unlabelled: no). */
export const isOtherInstallation = (mine: string, binding: { installation?: string }): boolean =>
  binding.installation !== undefined && binding.installation !== mine;
export const ANNOTATIONS = {
  requester: 'eks-access.io/requester',
  principalArn: 'eks-access.io/principal-arn',
  username: 'eks-access.io/username',
  roleArn: 'eks-access.io/role-arn',
  expiresAt: 'eks-access.io/expires-at',
  cluster: 'eks-access.io/cluster',
  /** HMAC over what the binding grants (src/domain/seal.ts); only the worker can write a valid one. */
  seal: 'eks-access.io/seal',
  /**
   * The labels' and annotations' format (domain/formats.ts ROLE_BINDING_FORMAT_VERSION); absent on
   * bindings written before it was (read by what they carry: no installation label, version 1).
   */
  format: 'eks-access.io/format',
} as const;
/** Tags on our IAM roles (IAM tag keys allow ':' and '/'). */
export const IAM_TAGS = {
  managedBy: 'eks-access:managed-by',
  cluster: 'eks-access:cluster',
  principal: 'eks-access:principal',
  username: 'eks-access:username',
  expiresAt: 'eks-access:expires-at',
} as const;

export const shortHash = (text: string, length = 10): string =>
  createHash('sha256').update(text).digest('hex').slice(0, length);

/** `alice` from `arn:aws:iam::1:user/dev/alice`; the session name from an assumed-role ARN. */
export function iamNameOf(principalArn: string): string {
  const resource = principalArn.split(':').slice(5).join(':');
  const parts = resource.split('/');
  return parts[parts.length - 1] ?? resource;
}

export const accountOf = (arn: string): string => arn.split(':')[4] ?? '';

/** What an IAM principal ARN says about who it is: its account, its kind and its name. */
export interface PrincipalParts {
  account: string;
  kind: 'user' | 'role' | 'assumed-role' | 'unknown';
  /**
   * Unique within the account and kind: IAM user and role names are unique per account whatever
   * their path; an assumed-role session is `<role>/<session>` (the session name is the caller's choice).
   */
  name: string;
}

export function principalParts(principalArn: string): PrincipalParts {
  const resource = principalArn.split(':').slice(5).join(':');
  const [kind = '', ...rest] = resource.split('/');
  const account = accountOf(principalArn);
  if (kind === 'assumed-role') return { account, kind, name: rest.slice(-2).join('/') };
  if (kind === 'user' || kind === 'role') return { account, kind, name: rest.at(-1) ?? '' };
  return { account, kind: 'unknown', name: iamNameOf(principalArn) };
}

/** Placeholders a Kubernetes username template may use. */
export const USERNAME_PLACEHOLDERS = [
  '{account}',
  '{kind}',
  '{iamName}',
  '{slackUserId}',
  '{email}',
] as const;

/**
 * Kubernetes username from the policy template: {account}, {kind} (user, role or assumed-role),
 * {iamName} (for an assumed role `<role>/<session>`), {slackUserId}, {email}.
 */
export function renderUsername(
  template: string,
  vars: { principalArn: string; slackUserId: string; email?: string | undefined },
): string {
  const parts = vars.principalArn ? principalParts(vars.principalArn) : undefined;
  return template
    .replaceAll('{account}', parts?.account ?? '')
    .replaceAll('{kind}', parts?.kind ?? '')
    .replaceAll('{iamName}', parts?.name ?? '')
    .replaceAll('{slackUserId}', vars.slackUserId)
    .replaceAll('{email}', vars.email ?? '');
}

const slug = (text: string, max: number) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9+=,.@_-]/g, '-')
    .slice(0, max);

/** One personal role per person and cluster, under `<iamPath><cluster>/`. */
export function personalRolePath(iamPath: string, cluster: string): string {
  return `${iamPath}${cluster}/`;
}

/** Every personal role's name starts with this; aws-auth entries (which carry no path) are told apart by it. */
export const PERSONAL_ROLE_PREFIX = 'eksa-';

/** ≤ 64 characters: readable prefix for humans, hash for uniqueness across clusters and people. */
export function personalRoleName(cluster: string, principalArn: string): string {
  return `${PERSONAL_ROLE_PREFIX}${slug(iamNameOf(principalArn), 42)}-${shortHash(`${cluster}|${principalArn}`)}`;
}

/** The role's full ARN, path included (IAM, trust policies and access entries use this one). */
export function personalRoleArn(
  accountId: string,
  iamPath: string,
  cluster: string,
  principalArn: string,
  partition = 'aws',
): string {
  return `arn:${partition}:iam::${accountId}:role${personalRolePath(iamPath, cluster)}${personalRoleName(cluster, principalArn)}`;
}

/** The literal start of every username the template renders: the text before its first placeholder. */
export function usernamePrefixOf(template: string): string {
  const brace = template.indexOf('{');
  return brace === -1 ? template : template.slice(0, brace);
}

/** What marks an identity-mapping entry as one eks-access wrote on a cluster. */
export interface OwnMappings {
  accountId: string;
  /** `personalRolePath(iamPath, cluster)`: entries written before the path-less fix carry it. */
  rolePath: string;
  /** `usernamePrefixOf(kubernetesUsername)`; never empty for aws-auth clusters (the policy refuses that). */
  usernamePrefix: string;
}

/**
 * Whether an aws-auth entry is ours. aws-auth ARNs carry no path (the authenticator would never match
 * one), so the path no longer tells our entries apart; all of these must hold: the role is in the
 * cluster's account, its name has our prefix, it is path-less or under our path (entries written
 * before the fix), and the username has the policy's prefix. Anything else is foreign and never edited.
 */
export function isOurMapping(own: OwnMappings, entry: { roleArn: string; username: string }): boolean {
  const role = parseArn(entry.roleArn)?.service === 'iam' ? roleOf(entry.roleArn) : undefined;
  if (!role || role.account !== own.accountId || !role.name.startsWith(PERSONAL_ROLE_PREFIX)) return false;
  if (role.path !== '/' && role.path !== own.rolePath) return false;
  return own.usernamePrefix.length > 0 && entry.username.startsWith(own.usernamePrefix);
}

export const userLabelValue = (kubernetesUsername: string): string => shortHash(kubernetesUsername, 20);
export const roleBindingName = (grantId: string): string => `eks-access-${grantId}`;
export const keptRoleName = (level: string): string => `eks-access-${level}`;
