// AWS SDK errors as AccessError kinds: throttling, 5xx and network trouble are `unavailable` (retry),
// access denials are `misconfigured` (an admin must fix the worker's IAM policy), the rest `internal`.
import { AccessError } from '../../domain/errors.js';

interface SdkError {
  name?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
  code?: string;
}

const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceFailure',
]);
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation']);

export const awsErrorName = (error: unknown): string => (error as SdkError | undefined)?.name ?? '';

export function fromAwsError(error: unknown, what: string): AccessError {
  if (error instanceof AccessError) return error;
  const e = (error ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode ?? 0;
  const name = e.name ?? '';
  const details = { operation: what, awsError: name, status };
  if (THROTTLING.has(name) || status >= 500 || status === 429 || e.$retryable || NETWORK.has(e.code ?? '')) {
    return new AccessError('unavailable', `AWS is not answering (${what}: ${name || 'network'})`, {
      details,
      cause: error,
    });
  }
  if (DENIED.has(name) || status === 403) {
    return new AccessError('misconfigured', `eks-access may not ${what} (${name})`, {
      hint: 'Give the worker the IAM permissions `eks-access iam-policy render --for worker` lists (manifests/iam/).',
      details,
      cause: error,
    });
  }
  return new AccessError('internal', `${what} failed: ${name}`, { details, cause: error });
}
