// Requesters with no person behind them: an IAM role a CI job signs in as, asking through the API
// (docs/api.md, "CI jobs"). Such a role is its own requester, under an id that cannot be a Slack user id
// (`iam-role:<role ARN>`): it gets no DM, messages name the role, and only an auto-approve rule that names
// the role (`requesters.roles`) can grant it; nobody approves it by hand.
import type { Policy } from '../config/policy.js';
import { authenticatorRoleArn, sameRole } from './arn.js';

const ROBOT_PREFIX = 'iam-role:';

/** The requester id of an IAM role (any ARN naming it: the role, or a session of it). */
export const robotRequesterId = (roleArn: string): string =>
  `${ROBOT_PREFIX}${authenticatorRoleArn(roleArn) ?? roleArn}`;

/** Whether a requester id is a role's rather than a Slack user's. */
export const isRobotRequester = (id: string): boolean => id.startsWith(ROBOT_PREFIX);

/** The role ARN a robot id names; undefined for a Slack user id. */
export const roleOfRobot = (id: string): string | undefined =>
  isRobotRequester(id) ? id.slice(ROBOT_PREFIX.length) : undefined;

/** Whether some auto-approve rule of the policy names this role: only then may it ask at all. */
export function isNamedRobot(policy: Policy, roleArn: string): boolean {
  return Object.values(policy.clusters).some((c) =>
    c.namespaces.some((ns) =>
      ns.autoApprove.some((r) => r.requesters?.roles.some((arn) => sameRole(arn, roleArn))),
    ),
  );
}

/**
 * The principal of a robot requester id when the policy still names its role (the identity source of
 * robots is the policy itself); undefined for Slack user ids and for roles no rule names.
 */
export function robotPrincipal(policy: Policy, id: string): string | undefined {
  const role = roleOfRobot(id);
  return role && isNamedRobot(policy, role) ? role : undefined;
}
