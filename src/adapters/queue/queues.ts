// Queue names, job names and job ids. Ids derive from grant ids so duplicates collapse; BullMQ
// forbids ':' in custom ids, hence '-'. Payloads carry the grant id and nothing else, and the payload
// format's version (`v`, domain/formats.ts): jobs outlive the worker that queued them (a delayed revoke
// waits for the grant's expiry across any number of upgrades).
import { JOB_PAYLOAD_VERSION } from '../../domain/formats.js';

export const QUEUES = {
  activate: 'activate',
  extend: 'extend',
  revoke: 'revoke',
  remind: 'remind',
  reconcile: 'reconcile',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
/** The Slack outbox's queue (slack-outbox.ts); its depth is on the queue gauge with the engine's queues. */
export const OUTBOX_QUEUE = 'slack-outbox';

export type JobKind = 'activate' | 'revoke' | 'warn' | 'lapse' | 'nudge' | 'opens' | 'review';
export interface GrantJob {
  /** The payload format (JOB_PAYLOAD_VERSION); absent on jobs queued before it was stamped (version 1). */
  v?: number;
  grantId: string;
  /** `extend` jobs only: which claimed extension (Grant.extensionsApplying) to apply. */
  extensionId?: string;
}

/** A payload as this version writes it. */
export const grantJob = (grantId: string, extensionId?: string): GrantJob => ({
  v: JOB_PAYLOAD_VERSION,
  grantId,
  ...(extensionId === undefined ? {} : { extensionId }),
});

export const RECONCILE_SCHEDULER_ID = 'reconcile-every';

/** `revoke-ea-abc12345-1767225600000`: one job per grant and moment. */
export const jobIdFor = (kind: JobKind, grantId: string, at?: number): string =>
  at === undefined ? `${kind}-${grantId}` : `${kind}-${grantId}-${at}`;

/** `extend-ea-abc12345-xk3m9qa`: one job per claimed extension, so queueing it twice adds nothing. */
export const extensionJobId = (grantId: string, extensionId: string): string =>
  `extend-${grantId}-${extensionId}`;

/** Retry policy for transient failures (unavailable, conflict): 1s, 2s, 4s … about 4 minutes in all. */
export const RETRY = { attempts: 8, backoff: { type: 'exponential', delay: 1000 } } as const;
