// What the Slack-facing use cases need, injected by the composition root (bin/bot.ts, bin/dev.ts)
// or a test. Engine operations arrive as functions so these use cases stay independent of the queue.
import type { Policy } from '../config/policy.js';
import type { Clock } from '../domain/clock.js';
import { notFound } from '../domain/errors.js';
import type { EndReason, Grant } from '../domain/grant.js';
import type { SealKeys } from '../domain/seal.js';
import type { AuditLog } from '../ports/audit-log.js';
import type { Directory } from '../ports/directory.js';
import type { GrantStore } from '../ports/grant-store.js';
import type { AwsIdentityResolver } from '../ports/identity.js';
import type { Locks } from '../ports/lock.js';
import type { Notifier } from '../ports/notifier.js';
import type { Scheduler } from '../ports/scheduler.js';

/**
 * The engine operations the Slack flow may call. Only Redis writes and queued jobs: the Slack-facing
 * process holds no cluster or IAM write client, so everything that touches a cluster runs in the worker.
 */
export interface EngineOps {
  /** active/approved → revoking + a revoke job (the engine's endGrant). */
  endGrant(grantId: string, reason: EndReason, actor: string, note?: string): Promise<Grant>;
}

export interface FlowDeps {
  policy: Policy;
  store: GrantStore;
  audit: AuditLog;
  scheduler: Scheduler;
  notifier: Notifier;
  directory: Directory;
  identity: AwsIdentityResolver;
  clock: Clock;
  engine: EngineOps;
  randomBytes: (n: number) => Uint8Array;
  /** Serialises checks that read-then-write shared counters (break-glass rate limits). */
  locks: Locks;
  /** Seals an approved decision so the worker can tell it from a record written straight into Redis. */
  seal: SealKeys;
}

/** Reads a grant or throws not_found in words a person understands. */
export async function mustGet(store: GrantStore, id: string): Promise<Grant> {
  const grant = await store.get(id);
  if (!grant) throw notFound(`There is no request ${id}`, '`/eks-access list` shows yours.');
  return grant;
}

/** Compare-and-set read-modify-write, shared with the engine's use cases. */
export { updateGrant } from '../shared/grant-records.js';
