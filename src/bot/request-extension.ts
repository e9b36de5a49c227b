// Use case: more time on an active grant. The level's extend policy decides (decideExtension): granted
// at once up to a cap, or waiting for approvers, who approve or deny it with the same rules and the
// same quorum as a request. One extension waits at a time; one still waiting when the grant ends dies
// with it. This process only decides: a decided extension is claimed under compare-and-set (the cap
// is checked inside it) and queued; the worker moves the expiry on the cluster (extend-grant.ts).

import {
  assertMayDecideExtension,
  assertNoExtensionWaiting,
  decideExtension,
  type ExtensionAsk,
  extensionApprovalsRequired,
  extensionChoices,
  MIN_EXTENSION_SECONDS,
  quorumReached,
} from '../domain/decisions.js';
import { parseDuration } from '../domain/duration.js';
import { badInput, conflict, forbidden } from '../domain/errors.js';
import type { ClaimedExtension, Grant } from '../domain/grant.js';
import { newExtensionId, transition } from '../domain/grant.js';
import { isRobotRequester } from '../domain/robots.js';
import { sealExtension, verifyDecisionSeal } from '../domain/seal.js';
import { approverGroupsOf } from './decide.js';
import { type FlowDeps, mustGet, updateGrant } from './deps.js';

export type ExtensionOutcome =
  /** Decided (by the policy): claimed and queued for the worker, which DMs once it is in place. */
  { kind: 'applying'; grant: Grant; extension: ClaimedExtension } | { kind: 'waiting'; grant: Grant };

export async function requestExtension(
  deps: FlowDeps,
  grantId: string,
  who: string,
  duration?: string,
): Promise<ExtensionOutcome> {
  const grant = await mustGet(deps.store, grantId);
  if (grant.requester.slackUserId !== who) {
    throw forbidden('Only the person who has the access can extend it', 'Ask them to run `extend`.');
  }
  if (grant.status !== 'active') throw conflict(`Request ${grantId} is ${grant.status}, not active`);
  assertDecisionIntact(deps, grant);
  assertNoExtensionWaiting(grant);
  const level = deps.policy.levels[grant.level];
  const text = duration ?? level?.defaultDuration ?? '1h';
  const seconds = parseDuration(text);
  if (seconds === undefined || seconds <= 0) {
    throw badInput(
      `"${text}" is not a duration`,
      `Write it like 30m or 1h; at most ${level?.maxDuration ?? '?'} at a time.`,
    );
  }
  const now = deps.clock.now();
  const id = newExtensionId(deps.randomBytes);
  let auto = false;
  // The cap is checked on the record being replaced, so concurrent asks each see the others' claims.
  const after = await updateGrant(deps, grantId, (current) => {
    assertActive(current, now);
    assertNoExtensionWaiting(current);
    const decision = decideExtension(deps.policy, current, seconds, duration);
    if (decision.kind === 'refused') throw badInput('That extension is not possible', decision.why);
    if (decision.kind !== 'auto' && isRobotRequester(current.requester.slackUserId)) {
      // Nobody approves a role by hand, its extensions included: only the level's automatic extension.
      throw forbidden(
        'A role with no person behind it gets more time only automatically, and this level extends by approval',
        'Ask again through the auto-approve rule that names the role.',
      );
    }
    auto = decision.kind === 'auto';
    if (auto) {
      const facts = { id, by: who, seconds, auto: true };
      const claimed: ClaimedExtension = { ...facts, at: now, seal: sealExtension(deps.seal, grantId, facts) };
      return transition(current, 'active', {
        extensionsApplying: [...(current.extensionsApplying ?? []), claimed],
      });
    }
    const { extensionDenial: _earlier, ...rest } = current;
    return transition(rest as Grant, 'active', {
      extensionRequest: { id, by: who, seconds, at: now, approvals: [] },
    });
  });
  if (auto) {
    await deps.audit.append({
      action: 'extension-claimed',
      actor: who,
      grantId,
      at: now,
      details: { extension: id, seconds, auto: true, cluster: after.cluster, namespace: after.namespace },
    });
    await deps.scheduler.enqueueExtension(grantId, id);
    return { kind: 'applying', grant: after, extension: claimedIn(after, id) };
  }
  await deps.audit.append({
    action: 'extension-requested',
    actor: who,
    grantId,
    at: now,
    details: { extension: id, seconds, cluster: after.cluster, namespace: after.namespace },
  });
  await deps.notifier.grantChanged(after, { kind: 'extension-requested', by: who, seconds });
  return { kind: 'waiting', grant: after };
}

/**
 * The record is the one approvers decided: a record edited in Redis (a break-glass use with its
 * `breakGlass` removed, which would extend automatically) gets no extension from the bot. The worker
 * checks the same seal again before it moves anything.
 */
function assertDecisionIntact(deps: FlowDeps, grant: Grant): void {
  if (verifyDecisionSeal(deps.seal, grant, grant.decisionSeal) !== 'valid') {
    throw forbidden(
      `Request ${grant.id} was changed after it was approved, so it cannot be extended`,
      'Request access again; an admin can look at the audit trail.',
    );
  }
}

function assertActive(grant: Grant, now: number): void {
  if (grant.status !== 'active') throw conflict(`Request ${grant.id} is ${grant.status}, not active`);
  if ((grant.expiresAt ?? 0) <= now) {
    throw conflict(`Request ${grant.id} has already expired`, 'Request access again instead.', {
      grantId: grant.id,
    });
  }
}

const claimedIn = (grant: Grant, id: string): ClaimedExtension =>
  grant.extensionsApplying?.find((e) => e.id === id) as ClaimedExtension;

export type ApproveExtensionResult =
  /** Quorum reached: claimed and queued for the worker. */
  | { kind: 'applying'; grant: Grant; extension: ClaimedExtension }
  /** Recorded; more approvers needed. */
  | { kind: 'progress'; grant: Grant; approvals: number; required: number };

/**
 * An approver approves the extension their button showed (`asked`: its id). The compare-and-set makes
 * concurrent clicks count once, refuses an ask that is no longer the one waiting, and re-checks the
 * cap; the click that completes the quorum claims the extension and queues it for the worker.
 */
export async function approveExtension(
  deps: FlowDeps,
  grantId: string,
  clicker: string,
  asked: ExtensionAsk,
): Promise<ApproveExtensionResult> {
  const first = await mustGet(deps.store, grantId);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, first, clicker);
  const now = deps.clock.now();
  const freshId = newExtensionId(deps.randomBytes);
  let required = 1;
  let claimedId: string | undefined;
  const after = await updateGrant(deps, grantId, (current) => {
    assertMayDecideExtension(deps.policy, current, { slackUserId: clicker, memberOfGroups }, asked);
    assertActive(current, now);
    const waiting = current.extensionRequest as NonNullable<Grant['extensionRequest']>;
    const decision = decideExtension(deps.policy, current, waiting.seconds);
    if (decision.kind === 'refused') throw badInput('That extension is no longer possible', decision.why);
    const approvals = [
      ...(waiting.approvals ?? []),
      { slackUserId: clicker, at: now, ...(memberOfGroups.length > 0 ? { viaGroups: memberOfGroups } : {}) },
    ];
    required = extensionApprovalsRequired(deps.policy, current);
    if (!quorumReached(approvals, required)) {
      claimedId = undefined;
      return transition(current, 'active', { extensionRequest: { ...waiting, approvals } });
    }
    // The claim: clearing the request under compare-and-set is what a concurrent Deny loses to.
    claimedId = waiting.id ?? freshId;
    const facts = { id: claimedId, by: clicker, seconds: waiting.seconds, auto: false, approvals };
    const claimed: ClaimedExtension = { ...facts, at: now, seal: sealExtension(deps.seal, grantId, facts) };
    const { extensionRequest: _claimed, ...rest } = current;
    return transition(rest as Grant, 'active', {
      extensionsApplying: [...(current.extensionsApplying ?? []), claimed],
    });
  });
  if (claimedId === undefined) {
    const approvals = after.extensionRequest?.approvals?.length ?? 0;
    await deps.audit.append({
      action: 'extension-approval-progress',
      actor: clicker,
      grantId,
      at: now,
      details: { approvals, required, cluster: after.cluster, namespace: after.namespace },
    });
    await deps.notifier.grantChanged(after, {
      kind: 'extension-approval-progress',
      by: clicker,
      approvals,
      required,
    });
    return { kind: 'progress', grant: after, approvals, required };
  }
  const extension = claimedIn(after, claimedId);
  await deps.audit.append({
    action: 'extension-claimed',
    actor: clicker,
    grantId,
    at: now,
    details: {
      extension: claimedId,
      seconds: extension.seconds,
      auto: false,
      approvers: (extension.approvals ?? []).map((a) => a.slackUserId).join(','),
      cluster: after.cluster,
      namespace: after.namespace,
    },
  });
  await deps.scheduler.enqueueExtension(grantId, claimedId);
  return { kind: 'applying', grant: after, extension };
}

/**
 * Checked on the Deny click, before asking for a reason, so a non-approver types nothing in vain.
 * Returns the extension being decided: the reason typed is for that one, not for a later ask.
 */
export async function checkMayDecideExtension(
  deps: FlowDeps,
  grantId: string,
  clicker: string,
  /** The ask the button showed; a newer one refuses the click. */
  asked?: ExtensionAsk,
): Promise<ExtensionAsked> {
  const grant = await mustGet(deps.store, grantId);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, grant, clicker);
  assertMayDecideExtension(deps.policy, grant, { slackUserId: clicker, memberOfGroups }, asked);
  return grant.extensionRequest as ExtensionAsked;
}

export type ExtensionAsked = NonNullable<Grant['extensionRequest']>;

/**
 * An approver denies a waiting extension: the request is cleared and the expiry stays where it is (no
 * engine call: nothing on the cluster moves). Checked again here, since the grant may have changed
 * since the click.
 */
export async function denyExtension(
  deps: FlowDeps,
  grantId: string,
  clicker: string,
  reason: string,
  /** The extension shown when Deny was clicked; if another decision beat this one, its loser is told. */
  askedAtClick?: ExtensionAsk,
): Promise<Grant> {
  const first = await mustGet(deps.store, grantId);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, first, clicker);
  const asked = askedAtClick ?? first.extensionRequest;
  const now = deps.clock.now();
  let seconds = 0;
  const after = await updateGrant(deps, grantId, (current) => {
    assertMayDecideExtension(deps.policy, current, { slackUserId: clicker, memberOfGroups }, asked);
    seconds = current.extensionRequest?.seconds ?? 0;
    const id = current.extensionRequest?.id;
    const { extensionRequest: _, ...rest } = current;
    return transition(rest as Grant, 'active', {
      extensionDenial: { ...(id ? { id } : {}), by: clicker, seconds, reason, at: now },
    });
  });
  await deps.audit.append({
    action: 'extension-denied',
    actor: clicker,
    grantId,
    at: now,
    details: { seconds, reason, cluster: after.cluster, namespace: after.namespace, to: after.status },
  });
  await deps.notifier.grantChanged(after, { kind: 'extension-denied', by: clicker, seconds, reason });
  return after;
}

/**
 * What the Extend form offers this person for this grant: the durations the level allows now
 * (extensionChoices) and whether approvers decide. Refuses what `extend` would refuse anyway (not the
 * holder, not active, one already waiting, nothing left to extend by), before anything is typed.
 */
export async function extensionOffer(
  deps: Pick<FlowDeps, 'store' | 'policy' | 'clock'>,
  grantId: string,
  who: string,
): Promise<{ grant: Grant; choices: number[]; byApprovers: boolean }> {
  const grant = await mustGet(deps.store, grantId);
  if (grant.requester.slackUserId !== who) {
    throw forbidden('Only the person who has the access can extend it', 'Ask them to run `extend`.');
  }
  assertActive(grant, deps.clock.now());
  assertNoExtensionWaiting(grant);
  const choices = extensionChoices(deps.policy, grant);
  if (choices.length === 0) {
    const refusal = decideExtension(deps.policy, grant, MIN_EXTENSION_SECONDS);
    throw badInput(
      `\`${grant.id}\` cannot be extended now`,
      refusal.kind === 'refused' ? refusal.why : 'Request access again instead.',
    );
  }
  const first = decideExtension(deps.policy, grant, choices[0] as number);
  return { grant, choices, byApprovers: first.kind === 'needs-approval' };
}
