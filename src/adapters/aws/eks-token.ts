// Bearer tokens for EKS API servers, the format aws-iam-authenticator accepts:
// `k8s-aws-v1.` + base64url(presigned STS GetCallerIdentity URL signed with header x-k8s-aws-id).
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Clock } from '../../domain/clock.js';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
export type CredentialsProvider = () => Promise<AwsCredentials>;

/** A token lives 15 minutes on the authenticator side; we use it for 14. */
export const TOKEN_REUSE_MS = 14 * 60_000;

export async function presignEksToken(options: {
  clusterName: string;
  region: string;
  credentials: AwsCredentials;
  now: number;
}): Promise<string> {
  // The authenticator verifies against the regional STS endpoint, whatever endpoint our SDK uses.
  const hostname = `sts.${options.region}.amazonaws.com`;
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: options.region,
    service: 'sts',
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
    headers: { host: hostname, 'x-k8s-aws-id': options.clusterName },
  });
  const signed = await signer.presign(request, { expiresIn: 60, signingDate: new Date(options.now) });
  const query = Object.entries(signed.query ?? {})
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return `k8s-aws-v1.${Buffer.from(url).toString('base64url')}`;
}

/** Caches one token per cluster until shortly before its life ends. */
export class EksTokenSource {
  readonly #options: { clusterName: string; region: string; credentials: CredentialsProvider; clock: Clock };
  #cached: { token: string; until: number } | undefined;

  constructor(options: {
    clusterName: string;
    region: string;
    credentials: CredentialsProvider;
    clock: Clock;
  }) {
    this.#options = options;
  }

  async token(): Promise<string> {
    const now = this.#options.clock.now();
    if (this.#cached && this.#cached.until > now) return this.#cached.token;
    const credentials = await this.#options.credentials();
    const token = await presignEksToken({ ...this.#options, credentials, now });
    const credentialsEnd = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY;
    this.#cached = { token, until: Math.min(now + TOKEN_REUSE_MS, credentialsEnd - 60_000) };
    return token;
  }
}
