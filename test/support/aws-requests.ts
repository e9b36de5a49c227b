// Records the AWS requests an SDK client sends (after signing, so retries count and the signing key is
// known), for tests and benchmarks that look at what the engine really sent.
import type { EKSClient } from '@aws-sdk/client-eks';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { STSClient } from '@aws-sdk/client-sts';
import type { FinalizeRequestMiddleware, MiddlewareStack } from '@smithy/types';

export interface SentAwsRequest {
  /** e.g. `CreateRoleCommand`. */
  command: string;
  /** The access key id that signed the request. */
  accessKeyId: string;
  /** Which try of its call this is (the SDK's `amz-sdk-request: attempt=N`): 1 for the call itself, more for the SDK's retries. */
  attempt: number;
}

export function recordAwsRequests(client: IAMClient | EKSClient | STSClient, sent: SentAwsRequest[]): void {
  const record: FinalizeRequestMiddleware<object, object> = (next, context) => async (args) => {
    const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
    const accessKeyId = /Credential=([^/]+)\//.exec(headers['authorization'] ?? '')?.[1] ?? '';
    const attempt = Number(/attempt=(\d+)/.exec(headers['amz-sdk-request'] ?? '')?.[1] ?? 1);
    sent.push({ command: String(context.commandName), accessKeyId, attempt });
    return next(args);
  };
  (client.middlewareStack as unknown as MiddlewareStack<object, object>).add(record, {
    step: 'finalizeRequest',
    priority: 'low',
    name: 'recordAwsRequests',
  });
}
