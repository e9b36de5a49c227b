// IAM as AWS runs it, for the AssumeRole calls that pass through the AWS gateway: eventually consistent, and
// enforcing trust policies. moto applies an IAM change at once and never reads a trust policy (its
// AssumeRole hands out a session for any role, existing or not, to anyone), so a login test on moto alone
// cannot fail the way a person's first `kubectl` fails on AWS right after eks-access says "active".
//
// What the gateway does instead, for every STS AssumeRole it forwards:
//   - It reads the role as moto holds it now (GetRole). A change from what it last saw (created, trust
//     policy rewritten, deleted) becomes visible only after a seeded 1–4 s: before the delay's last quarter
//     the old state answers, during it old or new at random, per request (AWS: "changes ... are eventually
//     consistent"; one request can see a change and the next one not yet), then the new one. A role's
//     creation counts from its CreateDate, a trust change from when the gateway first saw it (later than
//     the write, never earlier: stricter than AWS, not laxer).
//   - It evaluates the visible trust policy against the caller (who moto says the request's keys are) the
//     way IAM does for the statements eks-access writes: Allow statements naming `sts:AssumeRole`, Principal
//     the caller's ARN or its account, and the conditions StringEquals/StringLike/ArnEquals/ArnLike/
//     DateLessThan/DateGreaterThan on aws:CurrentTime, aws:PrincipalArn, aws:userid, aws:PrincipalAccount and
//     sts:RoleSessionName. Any other operator or key makes a statement not match, so a policy this
//     evaluator does not understand is refused, never granted. A matching Deny refuses.
//   - Refused: the answer STS gives, HTTP 403 AccessDenied "... is not authorized to perform: sts:AssumeRole
//     on resource: <role>". Allowed: the request goes on to moto unchanged.
// The worker reaches STS through the gateway too in login tests (PlatformInfo.login.stsEndpoint), so its
// login probe meets the same IAM as the person.
import { seededRandom } from '../support/seeded.js';
import type { Propagation } from './access-entries-sync.js';

export interface Caller {
  arn: string;
  userId: string;
  account: string;
}

interface Statement {
  Effect?: string;
  Principal?: { AWS?: string | string[] } | string;
  Action?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

/** `aws:PrincipalArn` for a caller: an assumed-role session's role (without its path, which STS drops). */
function principalArnOf(callerArn: string): string {
  const session = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : callerArn;
}

/** IAM's wildcard match: `*` any run of characters, `?` one; case-sensitive. */
function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${source}$`, 's').test(value);
}

const OPERATORS: Record<string, (expected: string, actual: string) => boolean> = {
  StringEquals: (e, a) => e === a,
  StringLike: globMatches,
  ArnEquals: (e, a) => e === a,
  ArnLike: globMatches,
  DateLessThan: (e, a) => Date.parse(a) < Date.parse(e),
  DateGreaterThan: (e, a) => Date.parse(a) > Date.parse(e),
};

export interface AssumeRoleContext {
  caller: Caller;
  sessionName: string;
  now: number;
}

function statementMatches(statement: Statement, context: AssumeRoleContext): boolean {
  const actions = [statement.Action ?? []].flat();
  if (!actions.some((a) => a === 'sts:AssumeRole' || a === 'sts:*' || a === '*')) return false;
  const principals =
    typeof statement.Principal === 'string' ? [statement.Principal] : [statement.Principal?.AWS ?? []].flat();
  const { caller } = context;
  // A role's ARN (its path aside) names every session of that role, as IAM matches it.
  const withoutPath = (arn: string) =>
    arn.replace(/^(arn:[^:]+:iam::\d{12}:role\/)(?:.*\/)?([^/]+)$/, '$1$2');
  const principalMatches = principals.some(
    (p) =>
      p === '*' ||
      p.toLowerCase() === caller.arn.toLowerCase() ||
      withoutPath(p).toLowerCase() === principalArnOf(caller.arn).toLowerCase() ||
      p === caller.account ||
      p === `arn:aws:iam::${caller.account}:root`,
  );
  if (!principalMatches) return false;
  const keys: Record<string, string> = {
    'aws:currenttime': new Date(context.now).toISOString(),
    'aws:principalarn': principalArnOf(caller.arn),
    'aws:userid': caller.userId,
    'aws:principalaccount': caller.account,
    'sts:rolesessionname': context.sessionName,
  };
  return Object.entries(statement.Condition ?? {}).every(([operator, conditions]) => {
    const test = OPERATORS[operator];
    if (!test) return false;
    return Object.entries(conditions).every(([key, expected]) => {
      const actual = keys[key.toLowerCase()];
      return actual !== undefined && [expected].flat().some((e) => test(e, actual));
    });
  });
}

/** Whether a trust policy (its JSON text) lets `context.caller` assume the role, as IAM judges it. */
export function trustPermits(trustPolicy: string, context: AssumeRoleContext): boolean {
  let statements: Statement[];
  try {
    const parsed = JSON.parse(trustPolicy) as { Statement?: Statement | Statement[] };
    statements = [parsed.Statement ?? []].flat();
  } catch {
    return false;
  }
  const matching = statements.filter((s) => statementMatches(s, context));
  return matching.some((s) => s.Effect === 'Allow') && !matching.some((s) => s.Effect === 'Deny');
}

/** A role as IAM holds it: its trust policy's text, or undefined when there is no such role. */
export type RoleState = string | undefined;

interface Change {
  before: RoleState;
  after: RoleState;
  since: number;
  ms: number;
}

export interface IamPropagation {
  /**
   * Record `current` (the role as moto holds it at `now`) and say which state an AssumeRole at `now`
   * sees. `createdAt` dates a role's first sighting (its CreateDate), so a role made long ago is settled.
   */
  visible(roleArn: string, current: RoleState, now: number, createdAt?: number): RoleState;
}

export function iamPropagation(propagation: Propagation | undefined): IamPropagation {
  const random = seededRandom((propagation?.seed ?? 0) + 1); // its own stream: access entries draw from seed
  const delay = () =>
    propagation ? propagation.minMs + random() * (propagation.maxMs - propagation.minMs) : 0;
  const roles = new Map<string, Change>();
  return {
    visible(roleArn, current, now, createdAt) {
      let change = roles.get(roleArn);
      if (!change) {
        change = { before: undefined, after: current, since: createdAt ?? now, ms: delay() };
        roles.set(roleArn, change);
      } else if (change.after !== current) {
        change = { before: change.after, after: current, since: now, ms: delay() };
        roles.set(roleArn, change);
      }
      const elapsed = now - change.since;
      if (elapsed >= change.ms) return change.after;
      if (elapsed < change.ms * 0.75) return change.before;
      return random() < 0.5 ? change.before : change.after;
    },
  };
}

export interface Refusal {
  status: number;
  body: string;
}

/** What the gateway asks before it forwards an STS request: a refusal to send instead, or undefined. */
export type AssumeRoleGuard = (
  params: URLSearchParams,
  headers: Record<string, string | string[] | undefined>,
) => Promise<Refusal | undefined>;

function xmlField(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

/**
 * The guard for the gateway's AssumeRole calls (see the top of this file). moto tells who the request's keys
 * belong to (it reads the access key from the Authorization header, ignoring the signature) and what the
 * role is now; `propagation` undefined applies changes at once but still enforces the trust policy.
 */
export function assumeRoleGuard(options: {
  motoEndpoint: string;
  /** Any access key moto knows as the platform's (GetRole is asked as the platform). */
  platformAccessKeyId: string;
  propagation: Propagation | undefined;
  now?: () => number;
}): AssumeRoleGuard {
  const iam = iamPropagation(options.propagation);
  const now = options.now ?? Date.now;
  const ask = async (params: Record<string, string>, headers: Record<string, string>) => {
    const response = await fetch(options.motoEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ Version: '2011-06-15', ...params }).toString(),
    });
    return { status: response.status, xml: await response.text() };
  };
  return async (params, headers) => {
    if (params.get('Action') !== 'AssumeRole') return undefined;
    const roleArn = params.get('RoleArn') ?? '';
    const sessionName = params.get('RoleSessionName') ?? '';
    const signing: Record<string, string> = {};
    for (const name of ['authorization', 'x-amz-date', 'x-amz-security-token', 'host']) {
      const value = headers[name];
      if (typeof value === 'string') signing[name] = value;
    }
    const who = await ask({ Action: 'GetCallerIdentity' }, signing);
    const caller = {
      arn: xmlField(who.xml, 'Arn') ?? '',
      userId: xmlField(who.xml, 'UserId') ?? '',
      account: xmlField(who.xml, 'Account') ?? '',
    };
    const roleName = roleArn.split('/').at(-1) ?? '';
    // IAM's own view, asked as the platform (moto serves IAM on the same endpoint, host iam.amazonaws.com).
    const role = await ask(
      { Action: 'GetRole', RoleName: roleName, Version: '2010-05-08' },
      {
        host: 'iam.amazonaws.com',
        authorization: `AWS4-HMAC-SHA256 Credential=${options.platformAccessKeyId}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0`,
      },
    );
    const document = xmlField(role.xml, 'AssumeRolePolicyDocument');
    const current = role.status === 200 && document ? decodeURIComponent(document) : undefined;
    const created = xmlField(role.xml, 'CreateDate');
    const at = now();
    const visible = iam.visible(roleArn, current, at, created ? Date.parse(created) : undefined);
    if (caller.arn && visible && trustPermits(visible, { caller, sessionName, now: at })) return undefined;
    const message = `User: ${caller.arn || 'unknown'} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
    return {
      status: 403,
      body:
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>' +
        `<Code>AccessDenied</Code><Message>${message}</Message></Error>` +
        `<RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`,
    };
  };
}
