// What every AWS SDK client eks-access builds shares: bounded time per attempt and the SDK's adaptive
// retry mode. Without a timeout a frozen endpoint (IAM accepting the connection and never answering)
// holds a revoke or reconcile job for as long as the socket lives; with one, the call fails as
// `unavailable` and the job is retried like any other outage.
import type { Env } from '../../config/env.js';
import { parseDuration } from '../../domain/duration.js';

/** The settings every AWS client takes (defaults when a caller passes none). */
export type AwsClientEnv = Partial<Pick<Env, 'AWS_REQUEST_TIMEOUT' | 'AWS_MAX_ATTEMPTS'>>;

/** Per-attempt limits; the SDK makes up to `maxAttempts` attempts with jittered backoff between them. */
export interface AwsTimeouts {
  /** Time to establish the TCP/TLS connection. */
  connectionTimeoutMs: number;
  /** Time from sending the request to the whole response. */
  requestTimeoutMs: number;
}

const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
const MAX_CONNECTION_TIMEOUT_MS = 3_000;
const DEFAULT_MAX_ATTEMPTS = 3;

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
 *
 * Retry (@smithy/core's util-retry, read for this): `adaptive` is the standard strategy — up to
 * `maxAttempts`, "full jitter" backoff (random 0..base·2^n, capped at 20 s; base 50 ms, 1 s after a
 * throttling error), a retry quota that stops retrying when most recent calls failed — plus a
 * client-side token bucket that is off until AWS first answers Throttling, then sends at 0.7× the
 * measured rate and climbs back on a cubic curve. So a throttled burst slows itself to what AWS
 * accepts instead of hammering it, and nothing ever retries without a wait. The bucket lives in the
 * client: all jobs of a worker share one per cluster and service. Measured in docs/reliability.md
 * (`npm run bench -- --only throttle`): with IAM writes limited below the engine's own speed, a
 * 100-grant burst ends in 1.04–1.05× the time the limit alone imposes, none failed.
 */
export function awsClientOptions(env: AwsClientEnv) {
  const { connectionTimeoutMs, requestTimeoutMs } = awsTimeouts(env);
  return {
    requestHandler: {
      connectionTimeout: connectionTimeoutMs,
      requestTimeout: requestTimeoutMs,
      socketTimeout: requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
    retryMode: 'adaptive',
    maxAttempts: env.AWS_MAX_ATTEMPTS ?? DEFAULT_MAX_ATTEMPTS,
  } as const;
}
