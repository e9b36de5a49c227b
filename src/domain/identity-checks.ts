// Identity checks: who a Slack user is on Kubernetes and AWS, and that no two people share one identity.

import type { Policy } from '../config/policy.js';
import { isAcceptedIdentityCenterSession } from '../config/policy.js';
import { forbidden } from './errors.js';
import { principalParts, renderUsername } from './names.js';

/**
 * Whether the policy alone says who this person is on AWS: `linked` or `unlinked` from the explicit
 * map at once, or `lookup` when only the (slow, IAM-walking) email lookup can tell.
 */
export function identityFromMap(policy: Policy, slackUserId: string): 'linked' | 'unlinked' | 'lookup' {
  if (policy.identities.map[slackUserId]) return 'linked';
  return policy.identities.emailTag?.enabled || policy.identities.identityCenter?.enabled
    ? 'lookup'
    : 'unlinked';
}

/**
 * The Kubernetes username this person gets on this cluster: the cluster's own template for
 * identityMapping `none` (the name people already have), the policy's otherwise.
 */
export function kubernetesUsernameFor(
  policy: Policy,
  cluster: string,
  person: { principalArn: string; slackUserId: string; email?: string | undefined },
): string {
  const c = policy.clusters[cluster];
  const template =
    c?.identityMapping === 'none' && c.usernameTemplate
      ? c.usernameTemplate
      : policy.settings.kubernetesUsername;
  return renderUsername(template, person);
}

/** The identity resolver's target for a cluster: whose account an Identity Center session must be in. */
export function accountOfCluster(policy: Policy, cluster: string): { accountId: string } | undefined {
  const accountId = policy.clusters[cluster]?.accountId;
  return accountId ? { accountId } : undefined;
}

/**
 * Throws forbidden for a principal the policy does not accept as a person: an assumed-role session
 * (its name is its caller's choice) unless identities.allowAssumedRoles says otherwise. Checked at
 * submit and again before activation, so a grant that reached Redis some other way is refused too.
 */
export function assertPrincipalAccepted(policy: Policy, principalArn: string): void {
  if (principalParts(principalArn).kind !== 'assumed-role' || policy.identities.allowAssumedRoles) return;
  // Identity Center names the session after its user, so one of the policy's permission sets names a person.
  if (isAcceptedIdentityCenterSession(policy.identities, principalArn)) return;
  throw forbidden(
    `${principalArn} is an assumed-role session, and this policy does not accept those`,
    'Whoever may assume that role can pick any session name, so it does not name one person. An admin has to map your IAM user (or role) under identities.map instead.',
    { identity: 'assumed-role', principalArn },
  );
}

/** Two live principals that would be one Kubernetes user, or one principal under two usernames. */
export interface IdentityHolder {
  principalArn: string;
  username: string;
  /** Where it was seen: a grant id, or a RoleBinding `namespace/name`. */
  source: string;
}

/**
 * Throws forbidden when `person` would share a Kubernetes username with another live principal on
 * the cluster (they would be one user to RBAC and share one identity), or when the same principal
 * already holds a live identity under another username (a changed template: the two would fight
 * over one personal role). Only refuses; never decides who gets access.
 */
export function assertUniqueIdentity(
  person: { cluster: string; principalArn: string; username: string },
  live: readonly IdentityHolder[],
): void {
  const taken = live.find((h) => h.username === person.username && h.principalArn !== person.principalArn);
  if (taken) {
    throw forbidden(
      `Kubernetes user "${person.username}" on ${person.cluster} already belongs to another AWS principal (${taken.principalArn}, ${taken.source})`,
      'Two people must never be one Kubernetes user. An admin has to change settings.kubernetesUsername so it tells them apart (the default eks-access:{account}:{kind}:{iamName} does). Nothing was granted.',
      { identity: 'username-taken', username: person.username, holder: taken.principalArn },
    );
  }
  const renamed = live.find((h) => h.principalArn === person.principalArn && h.username !== person.username);
  if (renamed) {
    throw forbidden(
      `You already have a request or access on ${person.cluster} as Kubernetes user "${renamed.username}" (${renamed.source}); this request would make you "${person.username}"`,
      'The username template changed since that grant. Give that access back (`/eks-access done <id>`) or let it end, then ask again. Nothing was granted.',
      { identity: 'username-changed', username: person.username, previous: renamed.username },
    );
  }
}

/** The policy line an admin adds to link this person: `U…: arn:aws:iam::<account>:user/<name>`. */
export const identityMapEntry = (slackUserId: string): string =>
  `\`${slackUserId}: arn:aws:iam::<account>:user/<name>\` under identities.map in the policy`;
