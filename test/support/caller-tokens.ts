// Caller tokens for tests, signed with the SDK's SigV4 signer (not the plugin's own, so the two are
// checked against each other): a correct one, or one broken in exactly one way an attacker would try.
import { type AwsCredentials, presignGetCallerIdentity } from '../../src/adapters/aws/eks-token.js';
import { AUDIENCE_HEADER, CALLER_TOKEN_PREFIX } from '../../src/domain/caller-token.js';

export interface TokenOptions {
  credentials: AwsCredentials;
  region?: string;
  /** The STS host signed for: sts.<region>.amazonaws.com by default. */
  host?: string;
  /** The installation named in the audience header. */
  audience?: string;
  /** Signed headers instead of host + the audience header (e.g. a cluster's x-k8s-aws-id). */
  headers?: Record<string, string>;
  expiresIn?: number;
  signedAt: number;
  /** Extra or replaced query parameters, signed. */
  query?: Record<string, string | string[]>;
}

/** The presigned URL a token wraps. */
export function presignCallerUrl(options: TokenOptions): Promise<string> {
  const region = options.region ?? 'us-east-1';
  const hostname = options.host ?? `sts.${region}.amazonaws.com`;
  return presignGetCallerIdentity({
    region,
    hostname,
    credentials: options.credentials,
    headers: options.headers ?? { host: hostname, [AUDIENCE_HEADER]: options.audience ?? 'eks-access' },
    now: options.signedAt,
    expiresIn: options.expiresIn ?? 60,
    ...(options.query ? { query: options.query } : {}),
  });
}

export const tokenOf = (url: string): string =>
  `${CALLER_TOKEN_PREFIX}${Buffer.from(url).toString('base64url')}`;

export async function callerToken(options: TokenOptions): Promise<string> {
  return tokenOf(await presignCallerUrl(options));
}
