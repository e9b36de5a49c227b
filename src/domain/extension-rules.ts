// Extension rules: the choices offered, who may decide an extension, and whether a claimed extension
// still stands.

import type { LevelPolicy, Policy } from '../config/policy.js';
import { type ApproverContext, assertMayDecide, extensionApprovalsRequired } from './approval-rules.js';
import { formatDuration, parseDuration } from './duration.js';
import { type AccessError, conflict } from './errors.js';
import type { Approval, ClaimedExtension, Grant } from './grant.js';
import { committedSeconds } from './grant.js';
import { namespacePolicyOf } from './namespace-policy.js';
import { humanTime } from './text.js';

/**
 * May this person approve or deny the extension waiting on this grant? The same rules as the request
 * itself, except that the grant's earlier approvals do not count (the approver of the request may
 * decide its extension). Throws conflict when nothing waits, forbidden otherwise.
 */
export function assertMayDecideExtension(
  policy: Policy,
  grant: Grant,
  who: ApproverContext,
  asked?: ExtensionAsk,
): void {
  if (asked && !sameExtension(grant.extensionRequest, asked)) throw extensionAlreadyDecided(grant, asked);
  if (grant.status !== 'active' || !grant.extensionRequest) {
    throw conflict(`There is no extension waiting on ${grant.id}`, lastExtensionDecision(grant), {
      grantId: grant.id,
    });
  }
  assertMayDecide(policy, { ...grant, approvals: grant.extensionRequest.approvals ?? [] }, who, 'extension');
}

/** Which extension ask a click is about: its id (buttons carry it), or when it was asked (older records). */
export interface ExtensionAsk {
  id?: string | undefined;
  at?: number | undefined;
  seconds?: number | undefined;
}

/** The same ask: by id where either has one, else by when it was asked. */
function sameExtension(current: Grant['extensionRequest'], asked: ExtensionAsk): boolean {
  if (!current) return false;
  if (current.id !== undefined || asked.id !== undefined) return current.id === asked.id;
  return current.at === asked.at;
}

/** Whether a decision (denial or applied extension) answered this ask. */
function answers(decision: { id?: string; at: number }, asked: ExtensionAsk): boolean {
  if (asked.id !== undefined) return decision.id === asked.id;
  return asked.at !== undefined && decision.at >= asked.at;
}

/** Whether this person may decide the extension waiting on this grant (App Home, `approvals`). */
export function mayDecideExtension(policy: Policy, grant: Grant, who: ApproverContext): boolean {
  try {
    assertMayDecideExtension(policy, grant, who);
    return true;
  } catch {
    return false;
  }
}

/** For a click that finds nothing waiting: how the last extension asked was decided, if it was. */
function lastExtensionDecision(grant: Grant): string {
  const denial = grant.extensionDenial;
  const approved = grant.extensions.filter((e) => !e.auto).at(-1);
  if (grant.status === 'active' && denial && (!approved || denial.at >= approved.at)) {
    return `The last one (${formatDuration(denial.seconds)}) was denied by <@${denial.by}>: ${denial.reason}.`;
  }
  if (grant.status === 'active' && approved) {
    return `The last one (${formatDuration(approved.seconds)}) was approved by <@${approved.by}>; the access ends at ${humanTime(grant.expiresAt ?? 0)}.`;
  }
  return `It is ${grant.status}.`;
}

/**
 * The extension `asked` no longer waits: someone decided it first (two approvers clicked at the same
 * moment). Tells the one who lost what happened, naming who decided when the record shows it yet (an
 * approval is claimed first and recorded once the cluster has the new expiry).
 */
export function extensionAlreadyDecided(grant: Grant, asked: ExtensionAsk): AccessError {
  // A button carries the ask's id, not its amount: the amount comes from whatever decided it.
  const what = (seconds: number | undefined) =>
    seconds === undefined
      ? `The extension this button was for on ${grant.id}`
      : `The extension of ${formatDuration(seconds)} on ${grant.id}`;
  const details = { grantId: grant.id };
  const applying = grant.extensionsApplying?.find((e) => asked.id !== undefined && e.id === asked.id);
  if (applying) {
    return conflict(
      `${what(applying.seconds)} was already approved by ${applying.auto ? 'the policy' : `<@${applying.by}>`}`,
      'The new end time is being applied; the approval message shows it in a moment.',
      details,
    );
  }
  const denial = grant.extensionDenial;
  if (denial && answers(denial, asked)) {
    return conflict(
      `${what(denial.seconds)} was already denied by <@${denial.by}>`,
      `Their reason: ${denial.reason}. The access keeps its end time; nothing changed.`,
      details,
    );
  }
  const approved = grant.extensions.find((e) => !e.auto && answers(e, asked));
  if (approved) {
    return conflict(
      `${what(approved.seconds)} was already approved by <@${approved.by}>`,
      `The access now ends at ${humanTime(grant.expiresAt ?? 0)}; nothing else changed.`,
      details,
    );
  }
  const newer = grant.status === 'active' ? grant.extensionRequest : undefined;
  if (newer) {
    // A different ask replaced the one this approver saw: approving it blind would approve an
    // amount they never read.
    return conflict(
      `${what(asked.seconds)} is no longer waiting; ${formatDuration(newer.seconds)} more is asked now`,
      'Look at the current approval message (or `/eks-access approvals`) and decide that one.',
      details,
    );
  }
  if (asked.id === undefined && grant.status === 'active') {
    // An ask recorded before ids: it was claimed and is being applied.
    return conflict(
      `${what(asked.seconds)} was already approved by another approver`,
      'The new end time is being applied; the approval message shows it in a moment.',
      details,
    );
  }
  return conflict(`There is no extension waiting on ${grant.id}`, lastExtensionDecision(grant), details);
}

/** One extension waits at a time: a second ask would silently replace what approvers are looking at. */
export function assertNoExtensionWaiting(grant: Grant): void {
  const waiting = grant.extensionRequest;
  if (!waiting) return;
  throw conflict(
    `An extension of ${formatDuration(waiting.seconds)} is already waiting for approval on ${grant.id}`,
    'Wait for the approvers to decide; you can ask again after that.',
    { grantId: grant.id },
  );
}

export type ExtensionDecision =
  | { kind: 'auto'; seconds: number }
  | { kind: 'needs-approval'; seconds: number }
  | { kind: 'refused'; why: string };

/**
 * The shortest extension: 5 minutes. Less runs out about as soon as an approver has read it and the
 * worker has moved the end time (IAM trust and RoleBinding), so it is nearly always a slip (`extend
 * … for 1`); a level whose own default is shorter (a test policy's 20s grants) lowers it to that.
 */
export const MIN_EXTENSION_SECONDS = 300;

/** The shortest and longest extension of one level, in seconds. */
export function extensionBounds(level: Pick<LevelPolicy, 'defaultDuration' | 'maxDuration'>): {
  min: number;
  max: number;
} {
  const max = parseDuration(level.maxDuration) ?? 0;
  const min = Math.min(
    MIN_EXTENSION_SECONDS,
    parseDuration(level.defaultDuration) ?? MIN_EXTENSION_SECONDS,
    max,
  );
  return { min, max };
}

/** The steps an extension form offers, before the level's bounds and what is left of its cap. */
const EXTENSION_STEPS = [300, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400];

/**
 * The extensions (seconds) this grant may have now, as a form offers them: common steps between the
 * level's shortest and longest extension that stay within its total cap, plus what is left of the cap
 * when that is less than the longest. Empty when none is possible (`decideExtension` says why).
 */
export function extensionChoices(policy: Policy, grant: Grant): number[] {
  const level = policy.levels[grant.level];
  if (!level || level.extend.mode === 'never') return [];
  const { min, max } = extensionBounds(level);
  const cap = parseDuration(level.extend.maxTotal ?? level.maxDuration) ?? 0;
  const top = Math.min(max, cap - committedSeconds(grant));
  if (top < min) return [];
  return [...new Set([...EXTENSION_STEPS.filter((s) => s >= min && s <= top), top])].sort((a, b) => a - b);
}

/** The choice a form starts on: something modest, 30 minutes where offered, else the shortest. */
export const defaultExtension = (choices: readonly number[]): number | undefined =>
  choices.includes(1800) ? 1800 : choices[0];

/**
 * How an extension by `seconds` is handled under the level's extend policy; `typed` is the duration as
 * the person wrote it, so a refusal repeats their words.
 */
export function decideExtension(
  policy: Policy,
  grant: Grant,
  seconds: number,
  typed?: string,
): ExtensionDecision {
  const level = policy.levels[grant.level];
  if (!level) return { kind: 'refused', why: `Level ${grant.level} is no longer in the policy.` };
  if (level.extend.mode === 'never')
    return { kind: 'refused', why: `${grant.level} grants cannot be extended.` };
  const { min, max } = extensionBounds(level);
  if (seconds < min || seconds > max) {
    const asked = typed?.trim() || formatDuration(seconds);
    return {
      kind: 'refused',
      why: `You asked for ${asked} more; one extension of ${grant.level} is at least ${formatDuration(min)} and at most ${level.maxDuration}.`,
    };
  }
  const cap = parseDuration(level.extend.maxTotal ?? level.maxDuration) ?? 0;
  // Extensions claimed but not yet applied count: five concurrent asks must not each see the old total.
  const total = committedSeconds(grant) + seconds;
  if (total > cap) {
    const left = Math.max(0, cap - committedSeconds(grant));
    return {
      kind: 'refused',
      why: `That would make ${formatDuration(total)} in all; ${grant.level} allows ${formatDuration(cap)} (${formatDuration(left)} left). Request access again instead.`,
    };
  }
  // Break-glass never prolongs itself: more time is a decision for an approver.
  return level.extend.mode === 'auto' && !grant.breakGlass
    ? { kind: 'auto', seconds }
    : { kind: 'needs-approval', seconds };
}

/**
 * The worker's re-check before it applies a claimed extension, under the policy as it is now: the level
 * still exists and may be extended this way (automatically only where its mode is still `auto`), this
 * extension is no longer than one may be, everything committed stays within the cap, and an approved
 * extension's approvers each still qualify (with the groups the bot recorded; the requester only where
 * self-approval is allowed) and together make the quorum an extension needs now. Returns why not, or
 * undefined when the claim may be applied. The bot checked all of this at the click; a policy tightened
 * since (an approver removed, a lower cap) must win.
 */
export function extensionClaimRefusal(
  policy: Policy,
  grant: Grant,
  claim: Pick<ClaimedExtension, 'seconds' | 'auto' | 'approvals'>,
): string | undefined {
  const level = policy.levels[grant.level];
  const ns = namespacePolicyOf(policy, grant);
  if (!level || !ns || !ns.levels.includes(grant.level)) {
    return `${grant.level} in ${grant.namespace} on ${grant.cluster} is no longer in the policy`;
  }
  if (level.extend.mode === 'never') return `${grant.level} grants can no longer be extended`;
  if (claim.auto && level.extend.mode !== 'auto')
    return `an extension of ${grant.level} now needs an approver`;
  // The use is sealed with the decision, so a record that drops it fails that seal first.
  if (claim.auto && grant.breakGlass) return 'a break-glass use is extended only by an approver';
  if (claim.seconds > (parseDuration(level.maxDuration) ?? 0)) {
    return `one extension of ${grant.level} may now be at most ${level.maxDuration}`;
  }
  const cap = parseDuration(level.extend.maxTotal ?? level.maxDuration) ?? 0;
  if (committedSeconds(grant) > cap) {
    return `${grant.level} now allows ${formatDuration(cap)} in all, extensions included`;
  }
  if (claim.auto) return undefined;
  const counted: Approval[] = [];
  for (const approval of claim.approvals ?? []) {
    try {
      assertMayDecide(
        policy,
        { ...grant, approvals: counted },
        { slackUserId: approval.slackUserId, memberOfGroups: approval.viaGroups ?? [] },
        'extension',
      );
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return `the approval by <@${approval.slackUserId}> does not hold under the current policy (${why})`;
    }
    counted.push(approval);
  }
  const required = extensionApprovalsRequired(policy, grant);
  if (counted.length < required) {
    return `it has ${counted.length} approval(s); an extension now needs ${required}`;
  }
  return undefined;
}
