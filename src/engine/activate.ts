// Activation: `approved` → `active` once the RoleBinding, personal IAM role and identity mapping are in
// place and the API server confirms the permissions. Anything that cannot work ends as `failed`, with
// a reason a person can act on and whatever was half-created removed.

import { DNS1123_LABEL, isAccessPolicyLevel } from '../config/policy.js';
import type { AccessPolicyName } from '../domain/access-policies.js';
import { isoTime } from '../domain/clock.js';
import {
  accountOfCluster,
  assertApprovalsHold,
  assertPrincipalAccepted,
  kubernetesUsernameFor,
} from '../domain/decisions.js';
import { parseDuration } from '../domain/duration.js';
import { badInput, forbidden, misconfigured, toAccessError } from '../domain/errors.js';
import { type Grant, transition } from '../domain/grant.js';
import {
  type AccessPlan,
  type PermissionCheck,
  planGrant,
  trustPolicyFor,
  trustPolicyTooLong,
} from '../domain/plan.js';
import { verifyDecisionSeal } from '../domain/seal.js';
import { humanTime } from '../domain/text.js';
import { accessEnd, windowEnd } from '../domain/window.js';
import type { ClusterBackends, LoginProbe, ManagedBinding } from '../ports/cluster.js';
import { audit, changeGrant, notifySafely, requireGrant } from '../shared/grant-records.js';
import { activatePolicyGrant, policyEntriesOf } from './access-policy-grants.js';
import { assertSafeToActivate } from './activation-guards.js';
import { type EngineDeps, step } from './deps.js';
import { type Person, syncIdentity, withIdentityLock } from './identity-sync.js';
import { claimActivation, recordEnded } from './ledger.js';
import { type LoginProof, probeWindow, proveLogin } from './login-probe.js';
import { removeTrace, traceOf } from './revoke.js';
import { isSealed, sealedRoleBinding } from './sealed-bindings.js';
import { AUTHENTICATED, checksFor, describe, elsewhere, verifyGranted, verifyMapping } from './verify.js';

const PRINCIPAL_ARN = /^arn:aws[a-z-]*:(iam|sts)::\d{12}:(user|role|assumed-role)\/[\w+=,.@/-]+$/;

/** The activation job. Transient errors are thrown (the queue retries); others fail the grant. */
export async function activateGrant(deps: EngineDeps, grantId: string): Promise<Grant> {
  const grant = await requireGrant(deps, grantId);
  // active: already done (a retried job); revoking or terminal: nothing to activate.
  if (grant.status !== 'approved') return grant;
  // A window opens at its start, never before: a job that runs early (a retry, the reconciler's
  // re-queue, a clock ahead of the bot's) writes nothing and waits for the start.
  if (grant.startsAt !== undefined && deps.clock.now() < grant.startsAt) {
    await deps.scheduler.enqueueActivation(grant.id, grant.startsAt);
    return grant;
  }
  const progress = { wrote: false };
  try {
    return await activate(deps, grant, progress);
  } catch (error) {
    const reason = toAccessError(error);
    if (reason.transient) throw reason;
    // Refused before the first write (bad input, missing namespace): there is nothing to clean up.
    return failActivation(deps, grantId, reason, { cleanUp: progress.wrote });
  }
}

/** Bad input caught before anything is written: the grant can never work as it is. */
export function assertActivatable(deps: Pick<EngineDeps, 'policy'>, grant: Grant): void {
  const cluster = deps.policy.clusters[grant.cluster];
  if (!cluster) throw misconfigured(`Cluster ${grant.cluster} is no longer in the policy`);
  const level = deps.policy.levels[grant.level];
  if (!level) throw misconfigured(`Access level ${grant.level} is no longer in the policy`);
  if (!DNS1123_LABEL.test(grant.namespace) || grant.namespace.length > 63) {
    throw badInput(`"${grant.namespace}" is not a valid namespace name`);
  }
  const max = parseDuration(level.maxDuration) ?? 0;
  if (!(grant.durationSeconds > 0) || grant.durationSeconds > max) {
    throw badInput(
      `A duration of ${grant.durationSeconds}s is not allowed for ${grant.level}`,
      `The maximum is ${level.maxDuration}.`,
    );
  }
  if (cluster.identityMapping !== 'none' && !PRINCIPAL_ARN.test(grant.requester.principalArn)) {
    throw badInput(
      `"${grant.requester.principalArn}" is not an IAM user or role ARN`,
      'Map the Slack user to an ARN like arn:aws:iam::123456789012:user/alice in the policy.',
    );
  }
  if (!grant.requester.kubernetesUsername) throw misconfigured('The request has no Kubernetes username');
  assertPrincipalAccepted(deps.policy, grant.requester.principalArn);
}

/**
 * Before anything is written: the record is one the bot sealed when approvers decided (a record written
 * straight into Redis has no valid seal), and under the policy and identity source as they are now the
 * approvals still make the quorum and the requester is still who the record says.
 */
async function assertStillApproved(deps: EngineDeps, grant: Grant): Promise<void> {
  const verdict = verifyDecisionSeal(deps.seal, grant, grant.decisionSeal);
  if (verdict !== 'valid') {
    deps.logger.warn({ grantId: grant.id, verdict }, 'approved grant without a valid decision seal');
    await audit(deps, grant, 'forged-grant', 'system', { verdict });
    throw forbidden(
      `Request ${grant.id} was not approved through eks-access (its decision seal is ${verdict})`,
      'Nothing was written. Someone with write access to Redis may have made this record.',
    );
  }
  assertApprovalsHold(deps.policy, grant);
  const { requester } = grant;
  const principalArn = await deps.identity.principalFor(
    { slackUserId: requester.slackUserId, ...(requester.email ? { email: requester.email } : {}) },
    accountOfCluster(deps.policy, grant.cluster),
  );
  const username = kubernetesUsernameFor(deps.policy, grant.cluster, {
    principalArn,
    slackUserId: requester.slackUserId,
    email: requester.email,
  });
  if (principalArn !== requester.principalArn || username !== requester.kubernetesUsername) {
    throw forbidden(
      `<@${requester.slackUserId}> is now ${principalArn} (${username}), not ${requester.principalArn} (${requester.kubernetesUsername}) as when approved`,
      'Request access again.',
    );
  }
}

async function activate(deps: EngineDeps, grant: Grant, progress: { wrote: boolean }): Promise<Grant> {
  assertActivatable(deps, grant);
  await assertStillApproved(deps, grant);
  const end = windowEnd(grant);
  if (end !== undefined && end <= deps.clock.now()) {
    throw badInput(
      `The window of ${grant.id} ended at ${humanTime(end)} before its access could be set up`,
      'Nothing was written. Request a new window.',
    );
  }
  const level = deps.policy.levels[grant.level];
  if (isAccessPolicyLevel(level)) return activateWithAccessPolicy(deps, grant, level.accessPolicy, progress);
  const backends = await deps.clusters.forCluster(grant.cluster);
  // First: a mapping the cluster does not read (authentication mode) or cannot be edited safely.
  await backends.mapping.preflight();
  if (!(await backends.rbac.namespaceExists(grant.namespace))) {
    throw badInput(
      `Namespace ${grant.namespace} does not exist on ${grant.cluster}`,
      'Ask the namespace owners to create it first.',
    );
  }
  await assertSafeToActivate(
    backends,
    grant,
    level as NonNullable<typeof level>,
    (b) => isSealed(deps, grant.cluster, b),
    deps.policy.settings.keptRoles,
  );
  // The checks are derived from a plan; its expiry is fixed below, when the activation is recorded.
  const resolvedMapping = backends.mapping.mode;
  let plan = planGrant({
    policy: deps.policy,
    grant,
    expiresAt: accessEnd(grant, deps.clock.now()),
    resolvedMapping,
  });
  const checks = await checksFor(backends, plan, level as NonNullable<typeof level>);
  if (plan.personalRole) await assertTrustFits(deps, backends, grant, plan);

  // The decision is spent here, before the first write: the ledger fixes the expiry (a retry after a
  // crash re-uses it) and refuses a decision that was used, ended or not used in time.
  const { record } = await claimActivation(deps, grant);
  const { activatedAt, expiresAt } = record;
  plan = planGrant({ policy: deps.policy, grant, expiresAt, resolvedMapping });

  progress.wrote = true;
  await applyRbac(deps, backends, plan);
  await step(deps, 'role-binding', grant.id);
  const person = traceOf(grant, deps);
  // The binding already carries its final expiry, so the trust is written once, until then (with the
  // probe's statement where the login is proven, and once more without it).
  let proof: LoginProof | undefined;
  const synced = await withIdentityLock(deps, person, async () => {
    const window = plan.personalRole ? await probeWindow(deps, backends.probe) : undefined;
    const result = await syncIdentity(deps, backends, person, {
      mode: 'grant',
      ...(window ? { probe: window } : {}),
    });
    if (window && backends.probe && plan.personalRole) {
      proof = await proveThenCloseTrust(deps, backends, person, {
        probe: backends.probe,
        roleArn: plan.personalRole.arn,
        username: plan.username,
        checks,
      });
    }
    return result;
  });
  await step(deps, 'identity', grant.id);
  if (plan.personalRole && !proof) {
    await verifyMapping(backends, { roleArn: plan.personalRole.arn, username: plan.username });
  }
  await verifyGranted(deps, backends, plan.username, checks);
  await warnIfBroader(deps, backends, grant, plan, checks[0], synced.sealed);
  await step(deps, 'verified', grant.id);
  return announceActive(deps, grant, { activatedAt, expiresAt, username: plan.username, proof });
}

/**
 * An access-policy level (engine/access-policy-grants.ts): no RBAC, no Kubernetes request as the worker;
 * the trust is checked for size first, as for every level.
 */
async function activateWithAccessPolicy(
  deps: EngineDeps,
  grant: Grant,
  policy: AccessPolicyName,
  progress: { wrote: boolean },
): Promise<Grant> {
  const backends = await deps.clusters.forCluster(grant.cluster);
  policyEntriesOf(backends, grant, policy);
  const provisional = planGrant({
    policy: deps.policy,
    grant,
    expiresAt: accessEnd(grant, deps.clock.now()),
    resolvedMapping: 'access-entries',
  });
  await assertTrustFits(deps, backends, grant, provisional);
  const done = await activatePolicyGrant(deps, grant, backends, policy, traceOf(grant, deps), progress);
  await step(deps, 'verified', grant.id);
  return announceActive(deps, grant, {
    activatedAt: done.activatedAt,
    expiresAt: done.expiresAt,
    username: done.plan.username,
    proof: done.proof,
  });
}

/** `approved` → `active`, once: the expiry and warning scheduled, the audit written, the person told. */
async function announceActive(
  deps: EngineDeps,
  grant: Grant,
  done: { activatedAt: number; expiresAt: number; username: string; proof: LoginProof | undefined },
): Promise<Grant> {
  const { activatedAt, expiresAt, proof } = done;
  const usableAt = deps.clock.now();
  const { grant: active, changed } = await changeGrant(deps, grant.id, (current) =>
    current.status === 'approved' ? transition(current, 'active', { activatedAt, expiresAt }) : undefined,
  );
  // Only the activation whose compare-and-set landed announces it: concurrent deliveries of the same job
  // share the recorded activatedAt, so comparing it would not tell them apart.
  if (!changed) {
    // Ended while we were applying: make sure its revocation runs and cleans up what we made.
    if (active.status === 'revoking') await deps.scheduler.scheduleRevocation(grant.id);
    return active;
  }
  await scheduleExpiry(deps, active);
  await audit(deps, active, 'activated', 'system', {
    expiresAt: isoTime(expiresAt),
    username: done.username,
    // How long IAM, EKS and the authenticator took to let the person in, as the worker's probe saw it.
    ...(proof ? { loginProvenMs: proof.ms, loginAttempts: proof.attempts } : {}),
  });
  await notifySafely(deps, active, {
    kind: 'activated',
    usableAt,
    ...(proof ? { loginProvenMs: proof.ms } : {}),
  });
  return active;
}

/** Refuses, before anything is written, a grant whose trust (the probe's statement counted) IAM would refuse. */
async function assertTrustFits(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  plan: AccessPlan,
): Promise<void> {
  const window = await probeWindow(deps, backends.probe);
  const trust = trustPolicyFor(grant.requester.principalArn, accessEnd(grant, deps.clock.now()), window);
  const problem = trustPolicyTooLong(trust);
  if (problem)
    throw misconfigured(
      `${plan.personalRole?.name}: ${problem}`,
      'A shorter settings.iamPath (or principal path) is needed. Nothing was written.',
    );
}

/**
 * Under the person's identity lock: proves the login (engine/login-probe.ts), then writes the trust
 * again without the worker's statement, whether the proof held or not (it would lapse on its own within
 * PROBE_TRUST_MS). The mapping is read back first: a wrong entry fails at once, not at the deadline.
 */
async function proveThenCloseTrust(
  deps: EngineDeps,
  backends: ClusterBackends,
  person: Person,
  expected: { probe: LoginProbe; roleArn: string; username: string; checks: readonly PermissionCheck[] },
): Promise<LoginProof> {
  try {
    await verifyMapping(backends, expected);
    return await proveLogin(deps, expected.probe, expected);
  } finally {
    await syncIdentity(deps, backends, person, { mode: 'grant', trustOnly: true }).catch((error: unknown) =>
      deps.logger.warn(
        { err: error, role: expected.roleArn },
        "could not take the login probe's statement out of the trust; it lapses on its own",
      ),
    );
  }
}

/** The revoke job at expiry and the warning before it (replacing any earlier schedule). */
export async function scheduleExpiry(deps: EngineDeps, grant: Grant): Promise<void> {
  const expiresAt = grant.expiresAt ?? deps.clock.now();
  await deps.scheduler.scheduleRevocation(grant.id, expiresAt);
  const warnAt = expiresAt - (parseDuration(deps.policy.settings.expiryWarning) ?? 0) * 1000;
  if (warnAt > deps.clock.now()) await deps.scheduler.scheduleExpiryWarning(grant.id, warnAt);
}

async function applyRbac(deps: EngineDeps, backends: ClusterBackends, plan: AccessPlan): Promise<void> {
  // The RoleBinding before its Role, with no lock: a revocation's deleteRoleIfUnused either lists this
  // binding and keeps the Role, or read the Role before applyRole wrote it again, so its conditional
  // delete fails (see ClusterRbac.applyRole). A binding to a Role not there yet grants nothing.
  await backends.rbac.applyRoleBinding(sealedRoleBinding(deps, plan));
  // applied-by-admin: the Role is the platform team's, checked before anything was written.
  if (plan.role && deps.policy.settings.keptRoles === 'written-by-worker')
    await backends.rbac.applyRole(plan.role);
}

/**
 * The negative check: the same permission elsewhere should be refused. When it is not (and no grant of
 * ours covers it), the person has broader access from outside eks-access; worth an audit line, but not
 * our grant's fault, so it does not fail the grant. `ours`: the person's sealed live bindings, as the
 * identity step just read them.
 */
async function warnIfBroader(
  deps: EngineDeps,
  backends: ClusterBackends,
  grant: Grant,
  plan: AccessPlan,
  check: AccessPlan['checks'][number] | undefined,
  ours: readonly ManagedBinding[],
): Promise<void> {
  if (!check) return;
  const other = { ...check, namespace: elsewhere(grant.namespace) };
  if (ours.some((b) => b.namespace === other.namespace)) return;
  if (await backends.rbac.allowed(plan.username, AUTHENTICATED, other)) {
    deps.logger.warn({ grantId: grant.id, check: describe(other) }, 'person has access beyond the grant');
    await audit(deps, grant, 'broader-access', 'system', { check: describe(other) });
  }
}

/**
 * Ends an approved grant as `failed`: removes whatever the attempt created, records the reason.
 * Also used by the worker when transient errors outlast their retries.
 */
export async function failActivation(
  deps: EngineDeps,
  grantId: string,
  error: unknown,
  options: { cleanUp: boolean } = { cleanUp: true },
): Promise<Grant> {
  const reason = toAccessError(error);
  const grant = await requireGrant(deps, grantId);
  if (grant.status !== 'approved') return grant;
  try {
    if (options.cleanUp && deps.policy.clusters[grant.cluster]) {
      const backends = await deps.clusters.forCluster(grant.cluster);
      await removeTrace(deps, backends, traceOf(grant, deps));
    }
  } catch (cleanupError) {
    // The reconciler removes RoleBindings of failed grants (and identities nobody needs) later.
    deps.logger.error({ err: cleanupError, grantId }, 'clean-up after a failed activation did not finish');
  }
  const text = reason.hint ? `${reason.message}. ${reason.hint}` : reason.message;
  // Failed is final: recorded before it is reported, so a record set back to approved stays refused.
  await recordEnded(deps, grant, 'failed', 'system');
  const { grant: failed, changed } = await changeGrant(deps, grantId, (current) =>
    current.status === 'approved'
      ? transition(current, 'failed', { failure: { reason: text, at: deps.clock.now() } })
      : undefined,
  );
  if (changed) {
    deps.logger.warn({ grantId, kind: reason.kind, err: reason }, 'activation failed');
    await audit(deps, failed, 'failed', 'system', { reason: text.slice(0, 300), kind: reason.kind });
    await notifySafely(deps, failed, { kind: 'failed', reason: text });
  }
  return failed;
}
