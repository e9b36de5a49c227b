// The login probe: before a grant is announced active, the worker logs in the way the person will — a
// session of the personal role, an EKS token for the cluster, the cluster's own answer to "who am I" and
// "may I" — because on real AWS a new role, a changed trust and a new access entry take seconds to apply,
// and a SubjectAccessReview for a username proves RBAC, not that anyone can get in.
//
// The personal role trusts the worker only while it verifies: a statement limited to the worker's own
// principal, one fixed session name and a short time, written in the same trust update the activation
// makes anyway, and taken out as soon as the probe passed. A standing statement would let anyone holding
// the worker's credentials become any person with live access without writing anything.
import { isoTime } from './clock.js';

/** Whether activation proves the login on `cluster` (policy `loginProbe`); never without a personal role. */
export const probesLogin = (cluster: {
  loginProbe?: boolean | undefined;
  connection: object;
  identityMapping: string;
}): boolean => cluster.identityMapping !== 'none' && (cluster.loginProbe ?? 'eks' in cluster.connection);

/** The session name of every probe session: what CloudTrail and the Kubernetes audit log show. */
export const PROBE_SESSION_NAME = 'eks-access-probe';
export const PROBE_STATEMENT_SID = 'EksAccessLoginProbe';
/** Probe sessions are as short as STS allows. */
export const PROBE_SESSION_SECONDS = 900;
/** Logins in a row that must succeed: AWS's propagation is not monotonic (one request may see a change, the next not yet). */
export const PROBE_SUCCESSES = 3;
/** Between two attempts: three successes span two seconds, longer than a flapping read usually lasts. */
export const PROBE_INTERVAL_MS = 1_000;
/** How long a change may take to propagate before the activation gives up (IAM: up to two minutes). */
export const PROBE_DEADLINE_MS = 120_000;
/**
 * How long a revocation tries to see the refusal. Shorter than an activation's wait: the role is deleted
 * afterwards either way (nothing is gained by keeping it), so this bounds only how long the proof is tried.
 */
export const REFUSAL_DEADLINE_MS = 30_000;
/** The worker's statement lapses on its own after this, should it never be taken out (a worker killed mid-probe). */
export const PROBE_TRUST_MS = PROBE_DEADLINE_MS + 60_000;

/** Who the worker is to IAM, in the forms `aws:PrincipalArn` takes for it. */
export interface ProbeCaller {
  account: string;
  partition: string;
  principalArns: string[];
}

/**
 * From `sts:GetCallerIdentity`'s Arn. A role session (IRSA, Pod Identity, an assumed hub role) is its
 * role: `aws:PrincipalArn` carries the role's ARN with its path, which the session ARN lacks, so both the
 * path-less and any-path forms are allowed (role names are unique in an account, whatever their path).
 */
export function probeCallerOf(callerArn: string): ProbeCaller | undefined {
  const match = /^arn:(aws[\w-]*):(sts|iam)::(\d{12}):(.+)$/.exec(callerArn);
  if (!match) return undefined;
  const [, partition = 'aws', service, account = '', resource = ''] = match;
  const iam = `arn:${partition}:iam::${account}:`;
  if (service === 'sts') {
    const role = /^assumed-role\/([^/]+)\/[^/]+$/.exec(resource)?.[1];
    if (!role) return undefined;
    return { account, partition, principalArns: [`${iam}role/${role}`, `${iam}role/*/${role}`] };
  }
  if (resource === 'root' || /^(user|role)\//.test(resource)) {
    return { account, partition, principalArns: [`${iam}${resource}`] };
  }
  return undefined;
}

/** The statement that lets the worker, and only as a probe session, assume the role until `until`. */
export function probeTrustStatement(caller: ProbeCaller, until: number) {
  return {
    Sid: PROBE_STATEMENT_SID,
    Effect: 'Allow' as const,
    // The account, narrowed by the condition to the worker's own principal: a role ARN in Principal must
    // name the path, which a session does not reveal.
    Principal: { AWS: `arn:${caller.partition}:iam::${caller.account}:root` },
    Action: ['sts:AssumeRole'],
    Condition: {
      DateLessThan: { 'aws:CurrentTime': isoTime(until) },
      ArnLike: { 'aws:PrincipalArn': caller.principalArns },
      StringEquals: { 'sts:RoleSessionName': PROBE_SESSION_NAME },
    },
  };
}

/** One login as the person would make it. */
export type ProbeAttempt =
  | { kind: 'in'; username: string; refused: string[] }
  /** `sts`: no session of the role (its trust); `cluster`: the session's token is not accepted. */
  | { kind: 'refused'; at: 'sts' | 'cluster'; reason: string };

/** What keeps `attempt` from proving the grant, or undefined when it proves it. */
export function probeProblem(attempt: ProbeAttempt, username: string): string | undefined {
  if (attempt.kind === 'refused') return attempt.reason;
  if (attempt.username !== username)
    return `the cluster says the session is "${attempt.username}", not "${username}"`;
  if (attempt.refused.length > 0) return `the cluster refuses ${attempt.refused.join(', ')}`;
  return undefined;
}
