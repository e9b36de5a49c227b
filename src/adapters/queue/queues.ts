// Queue names, job names and job ids. Ids derive from grant ids so duplicates collapse; BullMQ
// forbids ':' in custom ids, hence '-'. Payloads carry the grant id and nothing else.
export const QUEUES = {
  activate: 'activate',
  revoke: 'revoke',
  remind: 'remind',
  reconcile: 'reconcile',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export type JobKind = 'activate' | 'revoke' | 'warn' | 'lapse';
export interface GrantJob {
  grantId: string;
}

export const RECONCILE_SCHEDULER_ID = 'reconcile-every';

/** `revoke-ea-abc12345-1767225600000`: one job per grant and moment. */
export const jobIdFor = (kind: JobKind, grantId: string, at?: number): string =>
  at === undefined ? `${kind}-${grantId}` : `${kind}-${grantId}-${at}`;

/** Retry policy for transient failures (unavailable, conflict): 1s, 2s, 4s … about 4 minutes in all. */
export const RETRY = { attempts: 8, backoff: { type: 'exponential', delay: 1000 } } as const;
