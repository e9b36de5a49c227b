// Prometheus metrics (prom-client). Grant life-cycle series come from a Notifier decorator — every
// state change already flows through Notifier.grantChanged — so no use case needs to know about
// metrics; gauges (active grants, queue depth) are read at scrape time from the store and the queue.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Grant } from '../domain/grant.js';
import type { ReconcileReport } from '../engine/reconcile.js';
import type { GrantEvent, Notifier } from '../ports/notifier.js';

export interface MetricsSources {
  /** Grants currently active (store.listByStatus(['active']).length). */
  activeGrants?: () => Promise<number>;
  /** BullMQ job counts by state (queue.getJobCounts()), per queue name. */
  queueCounts?: () => Promise<Record<string, Record<string, number>>>;
}

export interface Metrics {
  registry: Registry;
  requests: Counter<'outcome'>;
  activationSeconds: Histogram;
  /** The part of activation spent waiting for AWS and the cluster to let the person in (the login probe). */
  loginPropagationSeconds: Histogram;
  /** Request → the approvers' decision: how long people wait for a human (the dashboard's approval latency). */
  approvalSeconds: Histogram;
  revocationLagSeconds: Histogram;
  jobs: Counter<'queue' | 'result'>;
  reconcileFindings: Counter<'kind'>;
  /** RoleBindings that look like ours but fail the seal, as the last reconcile pass found them. */
  forgedBindings: Gauge;
  /** Live sealed RoleBindings per key of SEAL_KEYS, as the last complete reconcile pass counted them. */
  liveSeals: Gauge<'key'>;
  /** 1 per key of SEAL_KEYS, labelled with whether it is the signing (first) key. */
  sealKeyInfo: Gauge<'key' | 'signing'>;
  /** Slack steps that carry access and could not be delivered (told another way instead). */
  slackUndelivered: Counter<'step'>;
  /** Access entries (anyone's) per access-entries cluster, as the last sweep counted them. */
  accessEntries: Gauge<'cluster'>;
  /** Revocation proofs that failed: the login probe was not refused in time (the role is kept, retried). */
  revocationsUnproven: Counter;
}

// Approval → usable access is seconds normally; expiry → revocation is bounded by the reconcile period.
const LATENCY_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];
// People decide in minutes to hours (a request lapses after pendingTimeout, 24 h in the example).
const APPROVAL_BUCKETS = [10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400];

export function createMetrics(
  sources: MetricsSources = {},
  options: { defaultMetrics?: boolean } = {},
): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'eks_access_' });
  const metrics: Metrics = {
    registry,
    requests: new Counter({
      name: 'eks_access_requests_total',
      help: 'Grant life-cycle events by outcome (requested, approved, denied, cancelled, activated, failed, extended, ended_expired, ended_revoked, ended_relinquished).',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    activationSeconds: new Histogram({
      name: 'eks_access_activation_seconds',
      help: 'Time from approval to usable access: everything written and verified (the login proven where the cluster probes logins), from decidedAt.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    loginPropagationSeconds: new Histogram({
      name: 'eks_access_login_propagation_seconds',
      help: "The part of activation spent waiting for IAM, EKS and the cluster's authenticator to let the person in: the login probe's first attempt to its last success in a row (clusters that probe logins only).",
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    approvalSeconds: new Histogram({
      name: 'eks_access_approval_seconds',
      help: 'Time from request to approval (decidedAt - createdAt), auto-approvals included.',
      buckets: APPROVAL_BUCKETS,
      registers: [registry],
    }),
    revocationLagSeconds: new Histogram({
      name: 'eks_access_revocation_lag_seconds',
      help: 'Time from expiry to completed revocation (endedAt - expiresAt) for grants that expired.',
      buckets: LATENCY_BUCKETS,
      registers: [registry],
    }),
    jobs: new Counter({
      name: 'eks_access_jobs_total',
      help: 'Queue jobs by result: completed, retried (failed, will retry), failed (out of attempts or unrecoverable).',
      labelNames: ['queue', 'result'],
      registers: [registry],
    }),
    reconcileFindings: new Counter({
      name: 'eks_access_reconcile_findings_total',
      help: 'What the reconciler found and fixed, by kind (e.g. expired bindings, orphaned roles, stuck grants).',
      labelNames: ['kind'],
      registers: [registry],
    }),
    slackUndelivered: new Counter({
      name: 'eks_access_slack_undelivered_total',
      help: 'Slack notifications that carry access (approval message, the DM with the commands, the ended notice) that could not be delivered, by step; the people concerned were told another way (approval thread, App Home).',
      labelNames: ['step'],
      registers: [registry],
    }),
    accessEntries: new Gauge({
      name: 'eks_access_cluster_access_entries',
      help: "Access entries on each cluster eks-access maps people to with access entries, everyone's (nodes, administrators, other tools) counted: EKS allows 3000 per cluster, after which no grant can be made there.",
      labelNames: ['cluster'],
      registers: [registry],
    }),
    revocationsUnproven: new Counter({
      name: 'eks_access_revocations_unproven_total',
      help: "Revocations whose proof failed: a fresh login as the person was not refused by the cluster within the proof's deadline after the mapping was removed (the personal role is kept, trusted by nobody but the probe, and the revocation retried; the grant stays revoking). Check the cluster's mapping.",
      registers: [registry],
    }),
    forgedBindings: new Gauge({
      name: 'eks_access_forged_bindings',
      help: 'RoleBindings labelled as ours whose seal does not verify (ignored; `grants forged` lists them), at the last reconcile.',
      registers: [registry],
    }),
    liveSeals: new Gauge({
      name: 'eks_access_live_seals',
      help: 'Live RoleBindings of this installation whose seal verified, per key id of SEAL_KEYS that sealed them (0 for an unused key), at the last reconcile that read every cluster. A key may leave SEAL_KEYS only at 0.',
      labelNames: ['key'],
      registers: [registry],
    }),
    sealKeyInfo: new Gauge({
      name: 'eks_access_seal_key_info',
      help: 'Always 1, one series per key id of SEAL_KEYS; signing="true" for the first key (every new seal), "false" for keys kept only to verify.',
      labelNames: ['key', 'signing'],
      registers: [registry],
    }),
  };
  const { activeGrants, queueCounts } = sources;
  new Gauge({
    name: 'eks_access_active_grants',
    help: 'Grants currently active (read from the store at scrape time).',
    registers: [registry],
    async collect() {
      if (activeGrants) this.set(await activeGrants());
    },
  });
  new Gauge({
    name: 'eks_access_queue_jobs',
    help: 'Queue jobs by state (waiting, delayed, active, failed, …), read from BullMQ at scrape time.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      if (!queueCounts) return;
      this.reset();
      for (const [queue, counts] of Object.entries(await queueCounts())) {
        for (const [state, count] of Object.entries(counts)) this.set({ queue, state }, count);
      }
    },
  });
  return metrics;
}

/** Records what `event` says about `grant`. Pure apart from the counters. */
export function recordGrantEvent(metrics: Metrics, grant: Grant, event: GrantEvent): void {
  switch (event.kind) {
    case 'approved':
      metrics.requests.inc({ outcome: event.kind });
      if (grant.decidedAt !== undefined && grant.createdAt !== undefined) {
        metrics.approvalSeconds.observe(Math.max(0, (grant.decidedAt - grant.createdAt) / 1000));
      }
      return;
    case 'requested':
    case 'denied':
    case 'cancelled':
    case 'failed':
    case 'extended':
      metrics.requests.inc({ outcome: event.kind });
      return;
    case 'activated':
      metrics.requests.inc({ outcome: 'activated' });
      if (grant.decidedAt !== undefined && grant.activatedAt !== undefined) {
        // A window's wait for its start is not activation time. Until access is usable: the writes and
        // their proof come after activatedAt (when the grant's clock started).
        const from = Math.max(grant.decidedAt, grant.startsAt ?? 0);
        const to = event.usableAt ?? grant.activatedAt;
        metrics.activationSeconds.observe(Math.max(0, (to - from) / 1000));
      }
      if (event.loginProvenMs !== undefined) {
        metrics.loginPropagationSeconds.observe(Math.max(0, event.loginProvenMs / 1000));
      }
      return;
    case 'ended':
      metrics.requests.inc({ outcome: `ended_${grant.endReason ?? grant.status}` });
      if (grant.endReason === 'expired' && grant.expiresAt !== undefined && grant.endedAt !== undefined) {
        metrics.revocationLagSeconds.observe(Math.max(0, (grant.endedAt - grant.expiresAt) / 1000));
      }
      return;
    case 'break-glass-used':
      metrics.requests.inc({ outcome: 'break_glass' });
      return;
    case 'break-glass-reviewed':
      metrics.requests.inc({ outcome: `break_glass_${event.verdict}` });
      return;
    case 'break-glass-overdue':
      metrics.requests.inc({ outcome: 'break_glass_review_overdue' });
      return;
    default:
      return; // approval-progress, extension-requested, expiring-soon: not outcomes
  }
}

/** A Notifier that records metrics, then delegates (a failing chat never loses the metric). */
export function instrumentNotifier(notifier: Notifier, metrics: Metrics): Notifier {
  return {
    async grantChanged(grant, event) {
      recordGrantEvent(metrics, grant, event);
      await notifier.grantChanged(grant, event);
    },
    // Counted when it is delivered, if it still applies then (the notifier's audit event), not now.
    ...(notifier.grantCheckLater ? { grantCheckLater: notifier.grantCheckLater.bind(notifier) } : {}),
  };
}

/** The part of a BullMQ Worker we listen to (kept structural so tests need no queue). */
export interface WorkerEvents {
  readonly name: string;
  on(event: 'completed', listener: () => void): unknown;
  on(
    event: 'failed',
    listener: (job: { attemptsMade: number; opts: { attempts?: number } } | undefined, error: Error) => void,
  ): unknown;
}

/** Counts completed, retried and finally failed jobs of a BullMQ Worker. */
export function instrumentWorker(worker: WorkerEvents, metrics: Metrics): void {
  worker.on('completed', () => metrics.jobs.inc({ queue: worker.name, result: 'completed' }));
  worker.on('failed', (job, error) => {
    const final = !job || error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1);
    metrics.jobs.inc({ queue: worker.name, result: final ? 'failed' : 'retried' });
  });
}

/** Counts what one reconciler run found (dry runs count nothing: nothing was fixed). */
export function recordReconcile(metrics: Metrics, report: ReconcileReport): void {
  if (report.dryRun) return;
  // Set even when errors hid a cluster: an alert on > 0 wants the latest count, not a sum.
  metrics.forgedBindings.set(report.forgedBindings.length);
  const { uses, complete } = report.sealKeys;
  if (uses.length > 0) metrics.sealKeyInfo.reset();
  for (const use of uses) metrics.sealKeyInfo.set({ key: use.key, signing: String(use.signing) }, 1);
  // Only a count over every cluster: one that missed a cluster could show 0 for a key still in use there.
  if (complete) {
    metrics.liveSeals.reset();
    for (const use of uses) metrics.liveSeals.set({ key: use.key }, use.live);
  }
  for (const { cluster, total } of report.accessEntries) metrics.accessEntries.set({ cluster }, total);
  const findings: Record<string, number> = {
    grant_ended: report.grantsEnded.length,
    request_lapsed: report.requestsLapsed.length,
    activation_requeued: report.activationsRequeued.length,
    binding_removed: report.bindingsRemoved.length,
    identity_removed: report.identitiesRemoved.length,
    mapping_removed: report.mappingsRemoved.length,
    mapping_migrated: report.mappingsMigrated.length,
    grant_rebuilt: report.grantsRebuilt.length,
    association_narrowed: report.associationsNarrowed.length,
    error: report.errors.length,
  };
  for (const [kind, count] of Object.entries(findings))
    if (count > 0) metrics.reconcileFindings.inc({ kind }, count);
}

/** What the reconcile keeper says about its sweeps (structural, so tests need no queue). */
export interface ReconcilerState {
  readonly lastRunAt: number | undefined;
  readonly lastSuccessAt: number | undefined;
}

/**
 * When the last sweep completed (with or without errors) and the last one without errors, as this
 * worker knows them (its own, or another worker's recorded in Redis). Alert when
 * `time() - eks_access_reconcile_last_success_timestamp_seconds` exceeds two RECONCILE_INTERVALs.
 * No sample until a first sweep completes (absent() alerts cover a worker that never swept).
 */
export function trackReconciler(metrics: Metrics, state: ReconcilerState): void {
  const seconds = (at: number | undefined) => (at === undefined ? undefined : at / 1000);
  new Gauge({
    name: 'eks_access_reconcile_last_run_timestamp_seconds',
    help: 'Unix time the last reconcile sweep completed, errors or not.',
    registers: [metrics.registry],
    collect() {
      const at = seconds(state.lastRunAt);
      if (at !== undefined) this.set(at);
    },
  });
  new Gauge({
    name: 'eks_access_reconcile_last_success_timestamp_seconds',
    help: 'Unix time the last reconcile sweep completed without errors (every cluster and Redis answered).',
    registers: [metrics.registry],
    collect() {
      const at = seconds(state.lastSuccessAt);
      if (at !== undefined) this.set(at);
    },
  });
}

/** Counts the times this process found Redis emptied (the epoch key gone or replaced). */
export function trackRedisDataLoss(metrics: Metrics, epoch: { onLost(hook: () => void): unknown }): void {
  const lost = new Counter({
    name: 'eks_access_redis_data_loss_total',
    help: 'Times this process noticed Redis had lost its data (epoch key gone or replaced) and re-created its state.',
    registers: [metrics.registry],
  });
  epoch.onLost(() => lost.inc());
}

/** The audit trail's archive writes: failures (each retried), records waiting, records given up. */
export function trackAuditArchive(
  metrics: Metrics,
  trail: { readonly failures: number; readonly pending: number; readonly dropped: number },
): void {
  new Counter({
    name: 'eks_access_audit_archive_failures_total',
    help: 'Audit record writes to the archive that failed (after the S3 client retries); each is retried in order.',
    registers: [metrics.registry],
    collect() {
      this.reset();
      this.inc(trail.failures);
    },
  });
  new Gauge({
    name: 'eks_access_audit_archive_pending',
    help: 'Audit records written to stdout and Redis but not yet to the archive (retried every 5 s).',
    registers: [metrics.registry],
    collect() {
      this.set(trail.pending);
    },
  });
  new Counter({
    name: 'eks_access_audit_archive_dropped_total',
    help: 'Audit records given up for the archive (more than 10 000 waiting); their stdout lines remain.',
    registers: [metrics.registry],
    collect() {
      this.reset();
      this.inc(trail.dropped);
    },
  });
}
