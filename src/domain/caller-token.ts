// Who is calling the API: a presigned STS GetCallerIdentity request, the way EKS bearer tokens and Vault's
// AWS auth method prove an AWS identity without a password. The caller signs the request with their own
// credentials and hands it over; the bot sends it to STS itself and believes only STS's answer.
//
// This module judges the token before anything is sent (readCallerToken) and STS's answer afterwards
// (judgeStsCaller). It is the security boundary of the API: a lax check here would let a caller make the
// bot fetch any URL, or claim any identity. Every rule below has a test that tries to break it
// (test/unit/caller-token.test.ts; on the strict emulator, test/int/caller-token.int.test.ts).
//
// The installation's name travels as a *signed header* whose value is not in the URL: the bot sends the
// header with its own installation's value, so STS refuses (signature mismatch) a token signed for
// another installation's value. A cluster token (signed header `x-k8s-aws-id`) never even leaves.

import { parseArn } from './arn.js';
import { badInput, forbidden } from './errors.js';

/** What a caller token starts with; the rest is the presigned URL, base64url. */
export const CALLER_TOKEN_PREFIX = 'eks-access-v1.';
/** The signed header whose value must be this installation's name (settings.installation). */
export const AUDIENCE_HEADER = 'x-eks-access-installation';
/** The signed header of a token made for an EKS cluster: such a token is refused by name. */
export const CLUSTER_AUDIENCE_HEADER = 'x-k8s-aws-id';
/** The longest X-Amz-Expires accepted (seconds): the client chooses it, the bot bounds it. */
export const MAX_TOKEN_EXPIRES_S = 60;
/** How old an X-Amz-Date may be, and how far in the future a caller's clock may run. */
export const MAX_TOKEN_AGE_MS = 60_000;
export const MAX_CLOCK_SKEW_MS = 30_000;

/**
 * AWS's STS hosts for the regions given, plus the global endpoint: the default exact allow-list. China
 * regions live under amazonaws.com.cn. Exact names only: no wildcard, no suffix match.
 */
export function defaultStsHosts(regions: readonly string[]): string[] {
  const regional = regions.map((r) => `sts.${r}.amazonaws.com${r.startsWith('cn-') ? '.cn' : ''}`);
  return [...new Set(['sts.amazonaws.com', ...regional])];
}

/** The query parameters a presigned GetCallerIdentity may carry, and no other. */
const REQUIRED_PARAMS = [
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
] as const;
const OPTIONAL_PARAMS = ['X-Amz-Security-Token'] as const;
const ALLOWED_PARAMS: ReadonlySet<string> = new Set<string>([...REQUIRED_PARAMS, ...OPTIONAL_PARAMS]);

/** The signed headers, as SigV4 lists them (lower case, sorted). */
export const REQUIRED_SIGNED_HEADERS = `host;${AUDIENCE_HEADER}`;

export interface CallerTokenRules {
  /** Exact STS host names the bot will send a token to (lower case). */
  stsHosts: readonly string[];
  /** This installation's name: the audience header's value the bot sends. */
  audience: string;
}

/** A token that passed every local rule: what to send to STS and how long it may be used. */
export interface CallerRequest {
  /** The URL to GET, exactly as the caller signed it. */
  url: string;
  /** The headers to send with it: the signed ones, with this installation's audience. */
  headers: Readonly<Record<string, string>>;
  /** Epoch ms after which the token is refused (X-Amz-Date + X-Amz-Expires). */
  validUntil: number;
  /** The signature: unique per token, the key of its single use. Never logged. */
  signature: string;
  /** The access key id that signed it (no secret): for logs and refusals. */
  accessKeyId: string;
}

const refuse = (message: string, rule: string) =>
  forbidden(
    message,
    'Make a new token with `kubectl eks-access` (it signs one for this installation, valid for a minute), or see docs/api.md.',
    { token: rule },
  );

/** `20260105T103000Z` → epoch ms; undefined when it is not that exact shape. */
export function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Date.UTC rolls 2026-02-31 over into March: a date that does not round-trip is not a date.
  return back.getUTCMonth() === mo - 1 && back.getUTCDate() === d && h < 24 && mi < 60 && s < 60
    ? ms
    : undefined;
}

/**
 * The query as name → values, from the raw text: URLSearchParams would fold `+` and hide how a name
 * was spelled, and duplicates must be seen to be refused.
 */
function queryParams(search: string): Map<string, string[]> {
  const params = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(search)) {
    params.set(name, [...(params.get(name) ?? []), value]);
  }
  return params;
}

/**
 * Judges a caller token against every local rule, before anything is sent anywhere. Throws bad_input
 * for what is not a token at all, forbidden for a token this installation must not accept; the message
 * names the rule and never repeats the token.
 */
export function readCallerToken(token: string, rules: CallerTokenRules, now: number): CallerRequest {
  if (!token.startsWith(CALLER_TOKEN_PREFIX)) {
    if (token.startsWith('k8s-aws-v1.')) {
      throw refuse('That is a token for an EKS cluster, not for eks-access', 'cluster-token');
    }
    throw badInput(
      `That is not an eks-access token (it starts with ${CALLER_TOKEN_PREFIX})`,
      'Send `Authorization: Bearer <token>` with a token from `kubectl eks-access token`.',
      { token: 'format' },
    );
  }
  const encoded = token.slice(CALLER_TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded) || encoded.length > 8192) {
    throw badInput('That eks-access token is not base64url text', undefined, { token: 'format' });
  }
  const text = Buffer.from(encoded, 'base64url').toString('utf8');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw badInput('That eks-access token does not hold a URL', undefined, { token: 'format' });
  }

  // Where the bot would send it: only to STS, only as STS is reached.
  if (url.protocol !== 'https:') throw refuse('The token must be an https:// URL', 'scheme');
  if (url.username || url.password) throw refuse('The token URL must not carry user information', 'host');
  if (url.port !== '') throw refuse('The token URL must not name a port', 'host');
  const host = url.hostname.toLowerCase();
  if (!rules.stsHosts.includes(host)) {
    throw refuse(`The token is for ${host}, which is not an STS endpoint this installation uses`, 'host');
  }
  if (url.pathname !== '/') throw refuse('The token URL must have the path /', 'path');
  if (url.hash) throw refuse('The token URL must not have a fragment', 'path');

  // What it asks STS: GetCallerIdentity, signed in the query, nothing else.
  const params = queryParams(url.search);
  for (const [name, values] of params) {
    if (!ALLOWED_PARAMS.has(name))
      throw refuse(`The token carries an unexpected parameter ${name}`, 'params');
    if (values.length > 1) throw refuse(`The token carries ${name} more than once`, 'params');
  }
  const one = (name: string): string => {
    const value = params.get(name)?.[0];
    if (value === undefined) throw refuse(`The token lacks ${name}`, 'params');
    return value;
  };
  for (const name of REQUIRED_PARAMS) one(name);
  if (one('Action') !== 'GetCallerIdentity') throw refuse('The token must ask GetCallerIdentity', 'action');
  if (one('Version') !== '2011-06-15') throw refuse('The token must ask STS version 2011-06-15', 'action');
  if (one('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
    throw refuse('The token must be signed with AWS4-HMAC-SHA256', 'signature');
  }
  const signature = one('X-Amz-Signature');
  if (!/^[0-9a-f]{64}$/.test(signature)) throw refuse('The token signature is malformed', 'signature');
  const credential = /^([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]+)\/sts\/aws4_request$/.exec(
    one('X-Amz-Credential'),
  );
  if (!credential) throw refuse('The token credential scope is not an STS one', 'signature');

  // Whose audience: host and this installation's header, exactly.
  const signedHeaders = one('X-Amz-SignedHeaders').toLowerCase().split(';');
  if (signedHeaders.includes(CLUSTER_AUDIENCE_HEADER)) {
    throw refuse('That token was made for an EKS cluster (x-k8s-aws-id), not for eks-access', 'audience');
  }
  if (signedHeaders.join(';') !== REQUIRED_SIGNED_HEADERS) {
    throw refuse(
      `The token must sign exactly the headers host and ${AUDIENCE_HEADER} (it signs ${signedHeaders.join(', ')})`,
      'audience',
    );
  }

  // When: the bot's own bounds, whatever the client chose.
  const signedAt = parseAmzDate(one('X-Amz-Date'));
  if (signedAt === undefined) throw refuse('The token date is malformed', 'date');
  if (credential[2] !== one('X-Amz-Date').slice(0, 8)) {
    throw refuse('The token date and its credential scope disagree', 'date');
  }
  if (signedAt - now > MAX_CLOCK_SKEW_MS) throw refuse('The token is dated in the future', 'date');
  if (now - signedAt > MAX_TOKEN_AGE_MS) throw refuse('The token is too old', 'date');
  const expiresText = one('X-Amz-Expires');
  const expires = /^\d{1,6}$/.test(expiresText) ? Number(expiresText) : Number.NaN;
  if (!(expires >= 1 && expires <= MAX_TOKEN_EXPIRES_S)) {
    throw refuse(`The token's X-Amz-Expires must be 1 to ${MAX_TOKEN_EXPIRES_S} seconds`, 'expires');
  }
  const validUntil = signedAt + expires * 1000;
  if (now >= validUntil) throw refuse('The token has expired', 'expired');

  return {
    url: url.href,
    headers: { host, [AUDIENCE_HEADER]: rules.audience },
    validUntil,
    signature,
    accessKeyId: credential[1] ?? '',
  };
}

/** STS's answer to GetCallerIdentity: the only facts about the caller the bot believes. */
export interface StsCaller {
  arn: string;
  account: string;
  userId: string;
}

/** An IAM unique id (AIDA…, AROA… on AWS): letters and digits, no session part. */
const UNIQUE_ID = /^[A-Za-z0-9]{8,128}$/;

/** The principal a caller is, once STS answered and the rules below accepted it. */
export interface VerifiedCaller {
  /** The ARN STS answered. */
  arn: string;
  account: string;
  kind: 'user' | 'assumed-role';
  /** IAM user ARN, or the role ARN (`arn:…:iam::<acct>:role/<name>`) of a session. */
  principalArn: string;
  /** The unique id STS answered for the user or role (AIDA…/AROA…), without a session name. */
  uniqueId: string;
}

/**
 * Judges STS's answer: an account on the allow-list, an IAM user or a role's session (no root, no
 * federated user), and an answer that agrees with itself (Account = the ARN's account, and for a
 * session UserId = `<role id>:<session name>`). Assumed-role rules (allowAssumedRoles, the Identity
 * Center pin) are the caller's to apply afterwards with assertPrincipalAccepted, because a CI role's
 * session is accepted as the role itself.
 */
export function judgeStsCaller(caller: StsCaller, accounts: readonly string[]): VerifiedCaller {
  const parsed = parseArn(caller.arn);
  if (!parsed || parsed.account !== caller.account) {
    throw forbidden('STS answered an identity eks-access cannot read', undefined, { token: 'answer' });
  }
  if (!accounts.includes(caller.account)) {
    throw forbidden(
      `AWS account ${caller.account} is not one this installation accepts callers from`,
      'An admin lists the accounts under api.accounts in the policy (by default, the clusters’ accounts).',
      { token: 'account', account: caller.account },
    );
  }
  const parts = parsed.resource.split('/');
  if (parsed.service === 'iam' && parts[0] === 'user' && parts.length >= 2) {
    // AWS's user ids start AIDA; emulators differ, and the id is compared with IAM's own below anyway.
    if (!UNIQUE_ID.test(caller.userId)) {
      throw forbidden('STS answered a user id that is not an IAM user id', undefined, { token: 'answer' });
    }
    return {
      arn: caller.arn,
      account: caller.account,
      kind: 'user',
      principalArn: caller.arn,
      uniqueId: caller.userId,
    };
  }
  if (parsed.service === 'sts' && parts[0] === 'assumed-role' && parts.length === 3) {
    const [, roleName = '', session = ''] = parts;
    const [roleId = '', ...rest] = caller.userId.split(':');
    if (!UNIQUE_ID.test(roleId) || rest.join(':') !== session) {
      throw forbidden('STS answered a user id that does not match the session', undefined, {
        token: 'answer',
      });
    }
    return {
      arn: caller.arn,
      account: caller.account,
      kind: 'assumed-role',
      principalArn: `arn:${parsed.partition}:iam::${parsed.account}:role/${roleName}`,
      uniqueId: roleId,
    };
  }
  throw forbidden(
    `${caller.arn} is neither an IAM user nor a role's session`,
    'Sign in as your IAM user, your Identity Center session, or your CI role; root and federated users are not accepted.',
    { token: 'kind' },
  );
}

/**
 * Refuses a caller whose user or role was deleted and created again under the same name since the
 * credentials were issued: the name is the same, the unique id is not, and it is not the same person.
 * `current` is the IAM user's or role's unique id now (undefined: it no longer exists).
 */
export function assertSameUniqueId(caller: VerifiedCaller, current: string | undefined): void {
  if (current === caller.uniqueId) return;
  throw forbidden(
    current === undefined
      ? `${caller.principalArn} no longer exists in IAM`
      : `${caller.principalArn} was deleted and created again since these credentials were issued`,
    'A user or role re-created with the same name is not the same principal. Sign in again with its current credentials.',
    { token: 'unique-id', principalArn: caller.principalArn },
  );
}
