// Use case: more time on an active grant. The level's extend policy decides (decideExtension): granted
// at once up to a cap, or waiting for an approver, who approves it with the same rules as a request.
import { assertMayDecide, decideExtension } from '../domain/decisions.js';
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
    return transition(current, 'active', { extensionRequest: { by: who, seconds, at: now } });
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
  let seconds = 0;
  await updateGrant(deps, grantId, (current) => {
    const pending = current.extensionRequest;
    if (current.status !== 'active' || !pending) {
      throw conflict(`There is no extension waiting on ${grantId}`, `It is ${current.status}.`);
    }
    // The same approver rules as the request itself; earlier approvals of the grant do not count.
    assertMayDecide(deps.policy, { ...current, approvals: [] }, { slackUserId: clicker, memberOfGroups });
    seconds = pending.seconds;
    const { extensionRequest: _, ...rest } = current;
    return { ...transition(rest as Grant, 'active') };
  });
  return deps.engine.applyExtension(grantId, seconds, clicker, false);
}
