// Every name eks-access gives an object is derived from ids, so revocation (and the reconciler,
// with an empty Redis) can always find what a grant created.
import { createHash } from 'node:crypto';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'eks-access';
export const LABELS = {
  grantId: 'eks-access.io/grant-id',
  level: 'eks-access.io/level',
  /** Hash of the Kubernetes username: usernames contain ':' and '@', which labels cannot. */
  user: 'eks-access.io/user',
} as const;
export const ANNOTATIONS = {
  requester: 'eks-access.io/requester',
  principalArn: 'eks-access.io/principal-arn',
  username: 'eks-access.io/username',
  roleArn: 'eks-access.io/role-arn',
  expiresAt: 'eks-access.io/expires-at',
  cluster: 'eks-access.io/cluster',
  /** HMAC over what the binding grants (src/domain/seal.ts); only the worker can write a valid one. */
  seal: 'eks-access.io/seal',
} as const;
/** Tags on our IAM roles (IAM tag keys allow ':' and '/'). */
export const IAM_TAGS = {
  managedBy: 'eks-access:managed-by',
  cluster: 'eks-access:cluster',
  principal: 'eks-access:principal',
  username: 'eks-access:username',
  expiresAt: 'eks-access:expires-at',
} as const;
/** Inline policy that denies sessions issued before revocation (the console's "revoke active sessions"). */
export const REVOKE_SESSIONS_POLICY = 'eks-access-revoke-older-sessions';

export const shortHash = (text: string, length = 10): string =>
  createHash('sha256').update(text).digest('hex').slice(0, length);

/** `alice` from `arn:aws:iam::1:user/dev/alice`; the session name from an assumed-role ARN. */
export function iamNameOf(principalArn: string): string {
  const resource = principalArn.split(':').slice(5).join(':');
  const parts = resource.split('/');
  return parts[parts.length - 1] ?? resource;
}

export const accountOf = (arn: string): string => arn.split(':')[4] ?? '';

/** Kubernetes username from the policy template: {iamName}, {slackUserId}, {email}. */
export function renderUsername(
  template: string,
  vars: { principalArn: string; slackUserId: string; email?: string | undefined },
): string {
  return template
    .replaceAll('{iamName}', vars.principalArn ? iamNameOf(vars.principalArn) : '')
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

/** ≤ 64 characters: readable prefix for humans, hash for uniqueness across clusters and people. */
export function personalRoleName(cluster: string, principalArn: string): string {
  return `eksa-${slug(iamNameOf(principalArn), 42)}-${shortHash(`${cluster}|${principalArn}`)}`;
}

export function personalRoleArn(
  accountId: string,
  iamPath: string,
  cluster: string,
  principalArn: string,
): string {
  return `arn:aws:iam::${accountId}:role${personalRolePath(iamPath, cluster)}${personalRoleName(cluster, principalArn)}`;
}

export const userLabelValue = (kubernetesUsername: string): string => shortHash(kubernetesUsername, 20);
export const roleBindingName = (grantId: string): string => `eks-access-${grantId}`;
export const keptRoleName = (level: string): string => `eks-access-${level}`;
