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
  const url = await presignGetCallerIdentity({
    ...options,
    hostname,
    headers: { host: hostname, 'x-k8s-aws-id': options.clusterName },
    expiresIn: 60,
  });
  return `k8s-aws-v1.${Buffer.from(url).toString('base64url')}`;
}

/**
 * A presigned STS GetCallerIdentity GET URL whose signature covers `headers`: the identity proof of
 * EKS bearer tokens (x-k8s-aws-id) and of eks-access's own API tokens (domain/caller-token.ts).
 * `query` adds parameters (tests use it to try what the API must refuse).
 */
export async function presignGetCallerIdentity(options: {
  region: string;
  hostname: string;
  headers: Record<string, string>;
  credentials: AwsCredentials;
  now: number;
  expiresIn: number;
  query?: Record<string, string | string[]>;
}): Promise<string> {
  const signer = new SignatureV4({
    credentials: options.credentials,
    region: options.region,
    service: 'sts',
    sha256: Sha256,
  });
  const request = new HttpRequest({
    method: 'GET',
    protocol: 'https:',
    hostname: options.hostname,
    path: '/',
    query: { Action: 'GetCallerIdentity', Version: '2011-06-15', ...(options.query ?? {}) },
    headers: options.headers,
  });
  const signed = await signer.presign(request, {
    expiresIn: options.expiresIn,
    signingDate: new Date(options.now),
  });
  const query = Object.entries(signed.query ?? {})
    .flatMap(([key, value]) => (Array.isArray(value) ? value : [value]).map((v) => [key, String(v)]))
    .map(([key, value]) => `${encodeURIComponent(String(key))}=${encodeURIComponent(String(value))}`)
    .join('&');
  return `https://${options.hostname}/?${query}`;
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
