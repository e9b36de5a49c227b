// Use case: a person asks for access. Validates against the policy and resolves who they are on AWS
// before anything is stored, so bad input leaves no trace; then either waits for approvers or, when an
// auto-approve rule covers the request, approves it at once (still audited and shown).
import {
  assertPrincipalAccepted,
  assertUniqueIdentity,
  autoApproveRuleFor,
  kubernetesUsernameFor,
  type RequestInput,
  resolveRequest,
} from '../domain/decisions.js';
import { parseDuration } from '../domain/duration.js';
import { isAccessError } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { newGrantId } from '../domain/grant.js';
import { type AccessPlan, planGrant } from '../domain/plan.js';
import { sealDecision } from '../domain/seal.js';
import type { FlowDeps } from './deps.js';

export interface SubmitResult {
  grant: Grant;
  plan: AccessPlan;
  autoApproved: boolean;
}

/** The dry run for a request that is not stored yet (the modal preview and `request` both show it). */
export async function previewRequest(
  deps: Pick<FlowDeps, 'policy' | 'directory' | 'identity' | 'clock'>,
  slackUserId: string,
  input: RequestInput,
): Promise<{ plan: AccessPlan; durationSeconds: number; requiredApprovals: number }> {
  const resolved = resolveRequest(deps.policy, input);
  const requester = await requesterFor(deps, slackUserId, resolved.cluster);
  const plan = planGrant({
    policy: deps.policy,
    grant: {
      id: 'ea-preview0',
      cluster: resolved.cluster,
      namespace: resolved.namespace,
      level: resolved.level,
      requester,
    },
    expiresAt: deps.clock.now() + resolved.durationSeconds * 1000,
  });
  return { plan, durationSeconds: resolved.durationSeconds, requiredApprovals: resolved.requiredApprovals };
}

async function requesterFor(
  deps: Pick<FlowDeps, 'policy' | 'directory' | 'identity'>,
  slackUserId: string,
  cluster: string,
): Promise<Grant['requester']> {
  const profile = await deps.directory.profile(slackUserId);
  const principalArn = await deps.identity.principalFor(profile);
  assertPrincipalAccepted(deps.policy, principalArn);
  return {
    slackUserId,
    principalArn,
    kubernetesUsername: kubernetesUsernameFor(deps.policy, cluster, {
      principalArn,
      slackUserId,
      email: profile.email,
    }),
    ...(profile.displayName ? { displayName: profile.displayName } : {}),
    ...(profile.email ? { email: profile.email } : {}),
  };
}

/**
 * Refuses a request whose Kubernetes username another principal's live request or grant on the
 * cluster already has (the validator catches what the identity map can produce; this catches the
 * rest, e.g. the email lookup). Activation asks the cluster the same question again.
 */
async function assertNoIdentityCollision(
  deps: Pick<FlowDeps, 'store'>,
  cluster: string,
  requester: Grant['requester'],
): Promise<void> {
  const live = await deps.store.listByStatus(['pending', 'approved', 'active', 'revoking']);
  assertUniqueIdentity(
    { cluster, principalArn: requester.principalArn, username: requester.kubernetesUsername },
    live
      .filter((g) => g.cluster === cluster)
      .map((g) => ({
        principalArn: g.requester.principalArn,
        username: g.requester.kubernetesUsername,
        source: `request ${g.id}`,
      })),
  );
}

/**
 * A request refused because of who the person is on AWS (two IAM users with their email, a username
 * another principal holds, an assumed-role session) goes to the audit trail as well as to the person:
 * it can mean someone tried to pass as someone else. Nothing is stored besides the audit event.
 */
async function reportIdentityRefusal<T>(
  deps: Pick<FlowDeps, 'audit' | 'clock'>,
  slackUserId: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const refusal = isAccessError(error) ? error.details['identity'] : undefined;
    if (typeof refusal === 'string' && isAccessError(error)) {
      const facts = Object.entries(error.details).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      );
      await deps.audit.append({
        action: 'identity-refused',
        actor: slackUserId,
        grantId: '',
        at: deps.clock.now(),
        details: Object.fromEntries(facts),
      });
    }
    throw error;
  }
}

export async function submitRequest(
  deps: FlowDeps,
  slackUserId: string,
  input: RequestInput,
): Promise<SubmitResult> {
  const { policy, clock } = deps;
  const resolved = resolveRequest(policy, input);
  const requester = await reportIdentityRefusal(deps, slackUserId, async () => {
    const found = await requesterFor(deps, slackUserId, resolved.cluster);
    await assertNoIdentityCollision(deps, resolved.cluster, found);
    return found;
  });
  const now = clock.now();
  const ruleGroups = resolved.namespacePolicy.autoApprove.flatMap((r) => r.requesters?.groups ?? []);
  const memberOfGroups = ruleGroups.length > 0 ? await deps.directory.groupsOf(slackUserId, ruleGroups) : [];
  const auto = autoApproveRuleFor(resolved.namespacePolicy, {
    level: resolved.level,
    durationSeconds: resolved.durationSeconds,
    slackUserId,
    memberOfGroups,
  });
  const id = newGrantId(deps.randomBytes);
  const autoActor = auto ? `auto:${resolved.namespace}#${auto.index}` : undefined;
  const qualifyingGroups = auto ? memberOfGroups.filter((g) => auto.rule.requesters?.groups.includes(g)) : [];
  const unsealed: Grant = {
    id,
    version: 1,
    status: auto ? 'approved' : 'pending',
    requester,
    cluster: resolved.cluster,
    namespace: resolved.namespace,
    level: resolved.level,
    durationSeconds: resolved.durationSeconds,
    reason: resolved.reason,
    ...(resolved.tickets.length > 0 ? { tickets: resolved.tickets } : {}),
    requiredApprovals: resolved.requiredApprovals,
    approvals: autoActor
      ? [
          {
            slackUserId: autoActor,
            at: now,
            autoRule: autoActor,
            ...(qualifyingGroups.length > 0 ? { viaGroups: qualifyingGroups } : {}),
            ...(auto?.rule.onCall && qualifyingGroups.length > 0 ? { onCall: true } : {}),
          },
        ]
      : [],
    createdAt: now,
    pendingUntil: now + (parseDuration(policy.settings.pendingTimeout) ?? 86_400) * 1000,
    ...(auto ? { decidedAt: now } : {}),
    extensions: [],
  };
  const grant: Grant = auto ? { ...unsealed, decisionSeal: sealDecision(deps.seal, unsealed) } : unsealed;
  const plan = planGrant({ policy, grant, expiresAt: now + grant.durationSeconds * 1000 });
  await deps.store.create(grant);
  await deps.audit.append({
    action: 'requested',
    actor: slackUserId,
    grantId: id,
    at: now,
    details: {
      cluster: grant.cluster,
      namespace: grant.namespace,
      level: grant.level,
      durationSeconds: grant.durationSeconds,
      reason: grant.reason,
      ...(grant.tickets ? { tickets: grant.tickets.join(',') } : {}),
      principalArn: requester.principalArn,
    },
  });
  if (autoActor) {
    await deps.audit.append({
      action: 'approved',
      actor: autoActor,
      grantId: id,
      at: now,
      // The group membership seen at request time is the evidence the rule held (e.g. on call).
      details: {
        rule: autoActor,
        to: 'approved',
        ...(qualifyingGroups.length > 0 ? { viaGroups: qualifyingGroups.join(',') } : {}),
      },
    });
    // The message is posted (and its ts stored) before the worker may start writing the grant.
    await deps.notifier.grantChanged(grant, { kind: 'approved', by: autoActor });
    await deps.scheduler.enqueueActivation(id);
  } else {
    await deps.scheduler.schedulePendingTimeout(id, grant.pendingUntil);
    await deps.notifier.grantChanged(grant, { kind: 'requested', plan });
  }
  return { grant, plan, autoApproved: Boolean(auto) };
}
