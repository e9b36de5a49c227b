// Use case: more time on an active grant. The level's extend policy decides (decideExtension): granted
// at once up to a cap, or waiting for an approver, who approves or denies it with the same rules as a
// request. One extension waits at a time; one still waiting when the grant ends dies with it.
import { assertMayDecideExtension, assertNoExtensionWaiting, decideExtension } from '../domain/decisions.js';
import { parseDuration } from '../domain/duration.js';
import { badInput, conflict, forbidden } from '../domain/errors.js';
import type { Grant } from '../domain/grant.js';
import { transition } from '../domain/grant.js';
import { approverGroupsOf } from './decide.js';
import { type FlowDeps, mustGet, updateGrant } from './deps.js';

export type ExtensionOutcome = { kind: 'extended'; grant: Grant } | { kind: 'waiting'; grant: Grant };

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
  const decision = decideExtension(deps.policy, grant, seconds);
  if (decision.kind === 'refused') throw badInput('That extension is not possible', decision.why);
  if (decision.kind === 'auto') {
    return { kind: 'extended', grant: await deps.engine.applyExtension(grantId, seconds, who, true) };
  }
  const now = deps.clock.now();
  const after = await updateGrant(deps, grantId, (current) => {
    if (current.status !== 'active') throw conflict(`Request ${grantId} is ${current.status}, not active`);
    assertNoExtensionWaiting(current);
    const { extensionDenial: _earlier, ...rest } = current;
    return transition(rest as Grant, 'active', { extensionRequest: { by: who, seconds, at: now } });
  });
  await deps.audit.append({
    action: 'extension-requested',
    actor: who,
    grantId,
    at: now,
    details: { seconds, cluster: after.cluster, namespace: after.namespace },
  });
  await deps.notifier.grantChanged(after, { kind: 'extension-requested', by: who, seconds });
  return { kind: 'waiting', grant: after };
}

/** An approver approves a waiting extension; the compare-and-set makes concurrent clicks apply it once. */
export async function approveExtension(deps: FlowDeps, grantId: string, clicker: string): Promise<Grant> {
  const first = await mustGet(deps.store, grantId);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, first, clicker);
  const asked = first.extensionRequest;
  let seconds = 0;
  // The claim: clearing the request under compare-and-set is what a concurrent Deny loses to.
  await updateGrant(deps, grantId, (current) => {
    assertMayDecideExtension(deps.policy, current, { slackUserId: clicker, memberOfGroups }, asked);
    seconds = current.extensionRequest?.seconds ?? 0;
    const { extensionRequest: _, ...rest } = current;
    return { ...transition(rest as Grant, 'active') };
  });
  return deps.engine.applyExtension(grantId, seconds, clicker, false);
}

/**
 * Checked on the Deny click, before asking for a reason, so a non-approver types nothing in vain.
 * Returns the extension being decided: the reason typed is for that one, not for a later ask.
 */
export async function checkMayDecideExtension(
  deps: FlowDeps,
  grantId: string,
  clicker: string,
): Promise<ExtensionAsked> {
  const grant = await mustGet(deps.store, grantId);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, grant, clicker);
  assertMayDecideExtension(deps.policy, grant, { slackUserId: clicker, memberOfGroups });
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
  askedAtClick?: ExtensionAsked,
): Promise<Grant> {
  const first = await mustGet(deps.store, grantId);
  const memberOfGroups = await approverGroupsOf(deps.policy, deps.directory, first, clicker);
  const asked = askedAtClick ?? first.extensionRequest;
  const now = deps.clock.now();
  let seconds = 0;
  const after = await updateGrant(deps, grantId, (current) => {
    assertMayDecideExtension(deps.policy, current, { slackUserId: clicker, memberOfGroups }, asked);
    seconds = current.extensionRequest?.seconds ?? 0;
    const { extensionRequest: _, ...rest } = current;
    return transition(rest as Grant, 'active', {
      extensionDenial: { by: clicker, seconds, reason, at: now },
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
