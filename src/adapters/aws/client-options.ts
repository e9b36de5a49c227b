// What every AWS SDK client eks-access builds shares: bounded time per attempt and the SDK's adaptive
// retry mode. Without a timeout a frozen endpoint (IAM accepting the connection and never answering)
// holds a revoke or reconcile job for as long as the socket lives; with one, the call fails as
// `unavailable` and the job is retried like any other outage.
import type { Env } from '../../config/env.js';
import { parseDuration } from '../../domain/duration.js';

/** Per-attempt limits; the SDK makes up to `maxAttempts` attempts with jittered backoff between them. */
export interface AwsTimeouts {
  /** Time to establish the TCP/TLS connection. */
  connectionTimeoutMs: number;
  /** Time from sending the request to the whole response. */
  requestTimeoutMs: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const MAX_CONNECTION_TIMEOUT_MS = 3_000;

/** From AWS_REQUEST_TIMEOUT (validated by the env schema; 10 s when a caller passes none). */
export function awsTimeouts(env: Partial<Pick<Env, 'AWS_REQUEST_TIMEOUT'>>): AwsTimeouts {
  const seconds = env.AWS_REQUEST_TIMEOUT ? parseDuration(env.AWS_REQUEST_TIMEOUT) : undefined;
  const requestTimeoutMs = seconds ? seconds * 1000 : DEFAULT_REQUEST_TIMEOUT_MS;
  return { requestTimeoutMs, connectionTimeoutMs: Math.min(MAX_CONNECTION_TIMEOUT_MS, requestTimeoutMs) };
}

/**
 * Options to spread into every `new XxxClient({...})`. The request handler is given as its options
 * (the SDK builds its NodeHttpHandler from them), so no transitive package is imported directly.
 * `throwOnRequestTimeout`: without it this SDK only logs a warning when requestTimeout passes.
 * Adaptive retry: standard retries plus client-side rate limiting once AWS answers with throttling.
 */
export function awsClientOptions(env: Partial<Pick<Env, 'AWS_REQUEST_TIMEOUT'>>) {
  const { connectionTimeoutMs, requestTimeoutMs } = awsTimeouts(env);
  return {
    requestHandler: {
      connectionTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      socketTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
    retryMode: 'adaptive',
    maxAttempts: 3,
  } as const;
}
