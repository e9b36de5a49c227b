// ARNs as aws-iam-authenticator (the authenticator EKS runs) reads them. Every place eks-access compares
// role ARNs goes through here, so "is this the same role" has one answer.
//
// What the authenticator does (pkg/arn Canonicalize, pkg/config RoleMapping.Matches): a session of a
// role, `arn:<p>:sts::<acct>:assumed-role/<name>/<session>`, becomes `arn:<p>:iam::<acct>:role/<name>`;
// STS never carries the role's path, so the result never has one. That string is then compared with
// each aws-auth `rolearn` case-insensitively (strings.EqualFold) and nothing else: an aws-auth entry
// whose ARN has a path matches no session at all. Unknown partitions are refused.

/** Partitions the authenticator recognises (pkg/endpoints PARTITIONS). */
export const PARTITIONS = [
  'aws',
  'aws-cn',
  'aws-us-gov',
  'aws-iso',
  'aws-iso-b',
  'aws-iso-e',
  'aws-iso-f',
  'aws-eusc',
] as const;

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  /** Everything after the fifth colon, e.g. `role/eks-access/c/eksa-alice`. */
  resource: string;
}

/** Splits an ARN like the AWS SDK's arn.Parse; undefined when it is not one or its partition is unknown. */
export function parseArn(text: string): ParsedArn | undefined {
  const parts = text.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  const [, partition = '', service = '', region = '', account = ''] = parts;
  if (!(PARTITIONS as readonly string[]).includes(partition)) return undefined;
  return { partition, service, region, account, resource: parts.slice(5).join(':') };
}

/** The partition a region lives in (the policy's regions are aws, aws-cn or aws-us-gov ones). */
export function partitionOfRegion(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export interface RoleRef {
  partition: string;
  account: string;
  /** `/` or `/eks-access/c/`: always starts and ends with a slash. */
  path: string;
  name: string;
}

/**
 * The IAM role an ARN names: an IAM role ARN (with or without a path) or a session of one
 * (`sts … assumed-role/<name>/<session>`). Undefined for anything else (users, root, federated users).
 */
export function roleOf(arn: string): RoleRef | undefined {
  const parsed = parseArn(arn);
  if (!parsed) return undefined;
  const parts = parsed.resource.split('/');
  if (parsed.service === 'iam' && parts[0] === 'role' && parts.length >= 2) {
    const name = parts[parts.length - 1] ?? '';
    const path = parts.length > 2 ? `/${parts.slice(1, -1).join('/')}/` : '/';
    return name ? { partition: parsed.partition, account: parsed.account, path, name } : undefined;
  }
  if (parsed.service === 'sts' && parts[0] === 'assumed-role' && parts.length >= 3) {
    // The session name is last; what sits between is the role name (STS gives no path).
    const name = parts.slice(1, -1).join('/');
    return name ? { partition: parsed.partition, account: parsed.account, path: '/', name } : undefined;
  }
  return undefined;
}

/**
 * The exact ARN the authenticator derives from any session of this role, `arn:<p>:iam::<acct>:role/<name>`:
 * what an aws-auth `rolearn` must say to match. Undefined when `arn` names no role.
 */
export function authenticatorRoleArn(arn: string): string | undefined {
  const role = roleOf(arn);
  return role && `arn:${role.partition}:iam::${role.account}:role/${role.name}`;
}

/**
 * A comparison key for "the same IAM role": role names are unique within an account whatever their
 * path and regardless of case, and the authenticator compares case-insensitively, so the key is the
 * path-less ARN in lower case. Undefined when `arn` names no role.
 */
export function roleKey(arn: string): string | undefined {
  return authenticatorRoleArn(arn)?.toLowerCase();
}

/** Whether two ARNs name the same IAM role (either may carry a path or be a session ARN). */
export function sameRole(a: string, b: string): boolean {
  const key = roleKey(a);
  return key !== undefined && key === roleKey(b);
}

/**
 * A session of an IAM Identity Center permission-set role, as STS names it:
 * `arn:<p>:sts::<acct>:assumed-role/AWSReservedSSO_<permission set>_<16 hex>/<user name>`. Identity
 * Center provisions that role in each account the set is assigned in (under
 * `/aws-reserved/sso.amazonaws.com/`), and signs people in to it with SAML, setting the session name to
 * the Identity Center user name; see docs/engine.md, "People who sign in through IAM Identity Center".
 */
export interface IdentityCenterSession {
  partition: string;
  account: string;
  /** `AWSReservedSSO_<set>_<hash>`: the role's name (STS carries no path). */
  roleName: string;
  permissionSet: string;
  /** The session name: the Identity Center user name. */
  userName: string;
}

/** Identity Center's permission-set role names: the set's name (which may hold `_`), then a 16-hex suffix. */
const RESERVED_SSO_ROLE = /^AWSReservedSSO_(.+)_([0-9a-f]{16})$/;

/** The Identity Center session an ARN names, or undefined for every other principal. */
export function identityCenterSessionOf(arn: string): IdentityCenterSession | undefined {
  const parsed = parseArn(arn);
  if (parsed?.service !== 'sts') return undefined;
  const parts = parsed.resource.split('/');
  if (parts.length !== 3 || parts[0] !== 'assumed-role') return undefined;
  const [, roleName = '', userName = ''] = parts;
  const match = RESERVED_SSO_ROLE.exec(roleName);
  if (!match || !userName) return undefined;
  return {
    partition: parsed.partition,
    account: parsed.account,
    roleName,
    permissionSet: match[1] ?? '',
    userName,
  };
}

/** The permission set a role name belongs to, when it is an Identity Center permission-set role. */
export function permissionSetOfRole(roleName: string): string | undefined {
  return RESERVED_SSO_ROLE.exec(roleName)?.[1];
}
