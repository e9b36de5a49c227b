// Who an API caller is as a person: the AWS principal STS named (adapters/aws/sts-caller-verifier.ts)
// mapped back to the Slack user the identity sources map to it, and then forward again through those
// same sources, so a request from the terminal is that person's, with the same policy, approvals and
// audit as one from Slack. Nothing an API payload says about who is asking is believed.
import { sameRole } from '../domain/arn.js';
import type { VerifiedCaller } from '../domain/caller-token.js';
import { assertPrincipalAccepted } from '../domain/decisions.js';
import { notLinked } from '../domain/errors.js';
import { isNamedRobot, robotRequesterId } from '../domain/robots.js';
import type { FlowDeps } from './deps.js';

/** Whether the principal an identity source gave a person is the caller STS named. */
export function isCallerPrincipal(caller: VerifiedCaller, principalArn: string): boolean {
  if (principalArn === caller.arn) return true; // the IAM user, or the very session (allowAssumedRoles)
  // A person mapped to a role signs in as a session of it; the role, not the session, names them.
  return (
    caller.kind === 'assumed-role' && principalArn.includes(':role/') && sameRole(principalArn, caller.arn)
  );
}

/**
 * The Slack user id of the person behind `caller` (or, for a role no person is mapped to that an
 * auto-approve rule names, the role's own requester id), or not_found (unlinked) saying what an admin adds.
 * Candidates come from the policy map, else from the email the identity sources give the principal (its
 * IAM user's email tag, its Identity Center user) looked up in Slack; each is confirmed by resolving the
 * person forward through the identity sources exactly as a Slack request would, in the caller's account.
 */
export async function personOfCaller(
  deps: Pick<FlowDeps, 'policy' | 'directory' | 'identity'>,
  caller: VerifiedCaller,
): Promise<string> {
  const { policy } = deps;
  // The same rules as a Slack request: a session is a person only by allowAssumedRoles or the
  // Identity Center pin, unless the person is mapped to the role itself.
  const mapped = Object.entries(policy.identities.map)
    .filter(([, arn]) => isCallerPrincipal(caller, arn))
    .map(([slackUserId]) => slackUserId);
  // Then the email an identity source gives the principal (email tag, Identity Center), to its Slack user.
  const byEmail: string[] = [];
  if (mapped.length === 0) {
    for (const email of await deps.identity.emailsOf(caller.arn)) {
      const found = await deps.directory.userByEmail(email);
      if (found && !byEmail.includes(found)) byEmail.push(found);
    }
  }
  for (const slackUserId of [...mapped, ...byEmail]) {
    const profile = await deps.directory.profile(slackUserId);
    const principal = await deps.identity.principalFor(profile, { accountId: caller.account });
    if (!isCallerPrincipal(caller, principal)) continue;
    if (principal === caller.arn) assertPrincipalAccepted(policy, principal);
    return slackUserId;
  }
  // No person: a role that an auto-approve rule names is its own requester (a CI job).
  if (caller.kind === 'assumed-role' && isNamedRobot(policy, caller.principalArn)) {
    return robotRequesterId(caller.principalArn);
  }
  throw notLinked(
    `${caller.arn} is not linked to a Slack user of this installation`,
    `Ask an admin to map your Slack user to ${caller.principalArn} under identities.map in the policy${policy.identities.emailTag?.enabled ? `, or to tag your IAM user with your Slack email (${policy.identities.emailTag.tagKey})` : ''}. Nothing was requested.`,
  );
}
