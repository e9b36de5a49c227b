// Verification with SubjectAccessReview: a grant is active only once the API server says the person
// can do what the level promises, and a revocation is done only once it says they cannot.
import type { LevelPolicy } from '../config/policy.js';
import { authenticatorRoleArn } from '../domain/arn.js';
import { AccessError, misconfigured } from '../domain/errors.js';
import type { AccessPlan, PermissionCheck } from '../domain/plan.js';
import { permissionChecks } from '../domain/plan.js';
import type { ClusterBackends } from '../ports/cluster.js';
import type { EngineDeps } from './deps.js';

/** Every authenticated identity carries this group; SAR should see what a real request would. */
export const AUTHENTICATED = ['system:authenticated'];
/** RBAC changes reach the authorizer through a watch: usually milliseconds, allow a few seconds. */
const PROPAGATION_MS = 10_000;

/** The plan's checks, or for ClusterRole levels a few derived from the ClusterRole's rules. */
export async function checksFor(
  backends: ClusterBackends,
  plan: AccessPlan,
  level: LevelPolicy,
): Promise<PermissionCheck[]> {
  if (plan.checks.length > 0 || !level.clusterRole) return plan.checks;
  const rules = await backends.rbac.clusterRoleRules(level.clusterRole);
  if (!rules) {
    throw misconfigured(
      `ClusterRole ${level.clusterRole} does not exist on ${plan.cluster}`,
      'Create it, or point the level at a ClusterRole the cluster has.',
    );
  }
  return permissionChecks(plan.namespace, { ...level, clusterRole: undefined, rules } as LevelPolicy, 3);
}

/** A namespace the grant does not cover, for the negative check. */
export const elsewhere = (namespace: string) => (namespace === 'default' ? 'kube-system' : 'default');

async function until(deps: EngineDeps, condition: () => Promise<boolean>): Promise<boolean> {
  const deadline = deps.clock.now() + PROPAGATION_MS;
  let wait = 25;
  for (;;) {
    if (await condition()) return true;
    if (deps.clock.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 500);
  }
}

/**
 * Reads the mapping back and checks it is what the cluster's authenticator will use for a session of
 * the personal role: for aws-auth the entry it would pick for that session's canonical ARN
 * (`arn:<p>:iam::<acct>:role/<name>`, no path; the last of equal keys), for access entries the entry
 * EKS keeps under the role's full ARN; either way mapping to exactly our username and no groups. What
 * this cannot prove without the person's credentials (their AssumeRole, the token, the authenticator's
 * cache) is said in docs/engine.md.
 */
export async function verifyMapping(
  backends: ClusterBackends,
  expected: { roleArn: string; username: string },
): Promise<void> {
  const { mode } = backends.mapping;
  if (mode === 'none') return;
  const entry = await backends.mapping.effectiveEntry(expected.roleArn);
  const wanted = mode === 'aws-auth' ? authenticatorRoleArn(expected.roleArn) : expected.roleArn;
  const problem = !entry
    ? `no ${mode} entry matches ${wanted}`
    : entry.roleArn.toLowerCase() !== wanted?.toLowerCase()
      ? `the ${mode} entry names ${entry.roleArn}, not ${wanted}`
      : entry.username !== expected.username
        ? `the ${mode} entry for ${wanted} maps to "${entry.username}", not "${expected.username}"`
        : entry.groups.length > 0
          ? `the ${mode} entry for ${wanted} adds groups ${entry.groups.join(', ')}`
          : undefined;
  if (problem) {
    throw new AccessError(
      'internal',
      `A session of the personal role would not log in as intended: ${problem}`,
      {
        hint: 'Something else edits the identity mapping; the platform team should check the cluster.',
        details: { mode },
      },
    );
  }
}

/**
 * Each check polled on its own until it holds or PROPAGATION_MS pass, all at once: the same reviews as
 * one after another, in the time of the slowest.
 */
async function firstUnmet(
  deps: EngineDeps,
  checks: readonly PermissionCheck[],
  holds: (check: PermissionCheck) => Promise<boolean>,
): Promise<PermissionCheck | undefined> {
  const results = await Promise.all(checks.map((check) => until(deps, () => holds(check))));
  return checks[results.indexOf(false)];
}

/** Throws `internal` naming the first permission the API server still refuses. */
export async function verifyGranted(
  deps: EngineDeps,
  backends: ClusterBackends,
  username: string,
  checks: readonly PermissionCheck[],
): Promise<void> {
  const check = await firstUnmet(deps, checks, (c) => backends.rbac.allowed(username, AUTHENTICATED, c));
  if (check) {
    throw new AccessError(
      'internal',
      `The cluster does not let ${username} ${describe(check)} after applying the grant`,
      {
        hint: 'An admission webhook or policy may be blocking RoleBindings; the platform team should check the cluster.',
        details: { check: describe(check) },
      },
    );
  }
}

/** Throws `unavailable` (retry) while the API server still allows one of the checks. */
export async function verifyGone(
  deps: EngineDeps,
  backends: ClusterBackends,
  username: string,
  checks: readonly PermissionCheck[],
): Promise<void> {
  const check = await firstUnmet(
    deps,
    checks,
    async (c) => !(await backends.rbac.allowed(username, AUTHENTICATED, c)),
  );
  if (check) {
    throw new AccessError('unavailable', `${username} can still ${describe(check)} after revocation`, {
      details: { check: describe(check) },
    });
  }
}

export const describe = (c: PermissionCheck) =>
  `${c.verb} ${c.resource}${c.subresource ? `/${c.subresource}` : ''}${c.group ? `.${c.group}` : ''} in ${c.namespace}`;
