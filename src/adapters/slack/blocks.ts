// Block Kit, built by pure functions from a grant and the policy. Every piece of user text passes
// through `esc` (so a reason cannot `<!channel>`) and `cut` (so Slack never rejects a message for size).

import type { ExtensionOutcome } from '../../bot/request-extension.js';
import type { Policy } from '../../config/policy.js';
import { type ApprovalNeed, defaultExtension, namespacePolicyOf } from '../../domain/decisions.js';
import { formatDuration, parseDuration } from '../../domain/duration.js';
import { type AccessError, headlineOf } from '../../domain/errors.js';
import type { Grant, HeldAccess } from '../../domain/grant.js';
import { secondsLeft, setupDueAt, setupOverdue } from '../../domain/grant.js';
import { type AccessPlan, planGrant } from '../../domain/plan.js';
import {
  accessCommands,
  approvalNeedText,
  commandHelp,
  failureAdvice,
  humanTime,
  statusLine,
} from '../../domain/text.js';
import { splitByReferences, type TicketSystem } from '../../domain/tickets.js';
import { windowEnd } from '../../domain/window.js';
import type { GrantEvent } from '../../ports/notifier.js';
import type { HomeModel } from '../../shared/home.js';

/** Slack's published limits (the fake Slack in test/support enforces the same). */
export const LIMITS = {
  messageBlocks: 50,
  viewBlocks: 100,
  text: 3000,
  field: 2000,
  fields: 10,
  header: 150,
  button: 75,
  option: 75,
  value: 2000,
  modalTitle: 24,
  fallbackText: 4000,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** A view's JSON (Slack: 250 kB), kept with a margin for the view's own fields. */
  viewBytes: 250_000,
} as const;

export const DENY_MODAL = 'deny_modal';
export const DENY_EXTENSION_MODAL = 'deny_extension_modal';
export const FLAG_MODAL = 'breakglass_flag_modal';
export const APPROVE_MODAL = 'approve_modal';
export const REVOKE_MODAL = 'revoke_modal';
export const EXTEND_MODAL = 'extend_modal';

export type Block = Record<string, unknown>;
export interface Message {
  text: string;
  blocks: Block[];
}

/** Escapes the three characters Slack treats as markup, so user text stays text. */
export const esc = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

/** Cuts to at most `max` UTF-16 units (how Slack counts), never splitting an emoji, marking the cut. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const char of text) {
    if (out.length + char.length > max - 1) break;
    out += char;
  }
  return `${out}…`;
}

/**
 * The requester's one status for a request on several targets: each target with its id and whether it
 * waits for its own approvers or a rule approved it, so a partial approval later is never a surprise.
 */
export function groupRequestedText(targets: readonly { grant: Grant; need: ApprovalNeed }[]): string {
  const first = targets[0]?.grant;
  const lines = targets.map(
    ({ grant, need }) =>
      `• \`${grant.id}\`: \`${grant.level}\` in ${where(grant)} — ${need.auto ? 'approved by policy' : `needs ${approvalNeedText(need, grant.level)} of its own`}`,
  );
  return [
    `:hourglass_flowing_sand: Requested ${targets.length} targets${first && windowWords(first) ? ` ${windowWords(first)}` : ''}. Each is decided by its own approvers and ends on its own; you get a DM for each.`,
    ...lines,
    'Give one back with `done <id>`, all of them with `done all`.',
  ].join('\n');
}

/**
 * The requester's answer to one request (the command's reply, the form's DM): what was asked, and
 * how many approvals it needs and why (approvalNeed, as the form showed) or the rule that approved it.
 */
export function requestedText(grant: Grant, need: ApprovalNeed): string {
  const what = `\`${grant.level}\` in ${where(grant)}`;
  const held = grant.alreadyHolds ? `\n${heldText(grant.alreadyHolds, 'You already have')}` : '';
  return `${requestedLine(grant, need, what)}${held}`;
}

/** "You already have `view` here until <date> (`ea-…`)": what a request's requester holds already. */
export function heldText(held: HeldAccess, who: string): string {
  const until =
    held.status === 'active' && held.expiresAt !== undefined
      ? `until ${slackTime(held.expiresAt)}`
      : 'approved, not active yet';
  return `:information_source: ${who} \`${held.level}\` here ${until} (\`${held.grantId}\`).`;
}

function requestedLine(grant: Grant, need: ApprovalNeed, what: string): string {
  if (need.auto) {
    return `:white_check_mark: \`${grant.id}\`: ${what} was approved by policy (auto-approve rule \`${need.auto.actor}\`); you will get a DM with the commands ${grant.startsAt === undefined ? 'in a moment' : `when the window opens (${slackTime(grant.startsAt)})`}.`;
  }
  return `:hourglass_flowing_sand: Requested \`${grant.id}\`: ${what} ${windowWords(grant) ?? `for ${formatDuration(grant.durationSeconds)}`}. It needs ${approvalNeedText(need, grant.level)}${grant.startsAt === undefined ? '' : ' before the window opens'}; you will get a DM when it is decided.`;
}

/** `from 2026-12-01 22:00 UTC to 2026-12-02 00:00 UTC (2h)` for a scheduled window; undefined otherwise. */
export function windowWords(grant: Pick<Grant, 'startsAt' | 'durationSeconds'>): string | undefined {
  const end = windowEnd(grant);
  if (grant.startsAt === undefined || end === undefined) return undefined;
  return `from ${slackTime(grant.startsAt)} to ${slackTime(end)} (${formatDuration(grant.durationSeconds)})`;
}

/**
 * A reason with its ticket references linked (policy `tickets.<name>.url`). The rest stays escaped user
 * text, so a reason still cannot mention a channel or forge a link.
 */
export function linkedReason(reason: string, systems: Readonly<Record<string, TicketSystem>>): string {
  return splitByReferences(reason, systems)
    .map((part) => {
      if ('text' in part) return esc(part.text);
      const { ref, url } = part.reference;
      // `|` or `>` in a reference would end the link early: such a reference stays text.
      return url && !/[|<>]/.test(ref) ? `<${url}|${esc(ref)}>` : esc(ref);
    })
    .join('');
}

/**
 * Escapes everything but user and group mentions: for our own hints, and for errors, which are only
 * ever shown ephemerally to the person who caused them (no one else is notified).
 */
const escHint = (text: string): string =>
  esc(text).replace(/&lt;(@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+)&gt;/g, '<$1>');

/** A person, or the auto-approve rule by the same name the audit stream uses (`auto:<namespace>#<index>`). */
export const mention = (id: string): string =>
  id.startsWith('auto:') ? `the auto-approve rule \`${esc(id)}\`` : `<@${id}>`;

// verbatim: Slack must not turn text people typed (URLs, #channel names) into links or mentions; the
// mentions we write ourselves (<@U…>, <#C…>) are explicit and still render.
const mrkdwn = (text: string, max: number = LIMITS.text) => ({
  type: 'mrkdwn',
  text: cut(text, max),
  verbatim: true,
});
/** A section field: Slack allows 2000 characters there, not a section's 3000. */
const field = (text: string) => mrkdwn(text, LIMITS.field);
const plain = (text: string, max: number = LIMITS.text) => ({
  type: 'plain_text',
  text: cut(text, max),
  emoji: true,
});
export const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) });
export const context = (text: string): Block => ({ type: 'context', elements: [mrkdwn(text)] });
const header = (text: string): Block => ({ type: 'header', text: plain(text, LIMITS.header) });
const divider: Block = { type: 'divider' };

function button(
  text: string,
  actionId: string,
  value: string,
  style?: 'primary' | 'danger',
  confirm?: Block,
): Block {
  return {
    type: 'button',
    text: plain(text, LIMITS.button),
    action_id: actionId,
    value,
    ...(style ? { style } : {}),
    ...(confirm ? { confirm } : {}),
  };
}

/** Slack's own "are you sure?" dialog on a button: nothing is sent unless the person confirms. */
function confirmDialog(title: string, text: string, yes: string, style?: 'primary' | 'danger'): Block {
  return {
    title: plain(title, LIMITS.confirmTitle),
    text: mrkdwn(text, LIMITS.confirmText),
    confirm: plain(yes, LIMITS.confirmButton),
    deny: plain('Cancel', LIMITS.confirmButton),
    ...(style ? { style } : {}),
  };
}

/** "I'm done" gives access back at once and cannot be undone, so Slack asks first. */
const doneButton = (grant: Pick<Grant, 'id' | 'namespace' | 'cluster'>): Block =>
  button(
    "I'm done",
    ACTIONS.done,
    grant.id,
    undefined,
    confirmDialog(
      'Give access back?',
      `Your access to ${where(grant)} ends now; for more you would have to request it again.`,
      'Give it back',
      'danger',
    ),
  );

/**
 * Approve and Deny for a request. Approving a privileged level asks for confirmation first, so a
 * stray click cannot hand out powerful access.
 */
function decideButtons(
  grant: Pick<Grant, 'id' | 'level' | 'namespace' | 'cluster'>,
  privileged: boolean,
): Block[] {
  const confirm = privileged
    ? confirmDialog(
        `Approve privileged access?`,
        `\`${grant.level}\` in ${where(grant)} is a *privileged* level. Approve it?`,
        'Approve',
        'primary',
      )
    : undefined;
  return [
    button('Approve', ACTIONS.approve, grant.id, 'primary', confirm),
    button('Deny', ACTIONS.deny, grant.id, 'danger'),
  ];
}

/** Revoke on an active grant's approval message: for approvers (the service checks), after a confirm. */
const revokeButton = (grant: Pick<Grant, 'id' | 'namespace' | 'cluster' | 'requester'>): Block =>
  button(
    'Revoke',
    ACTIONS.revoke,
    grant.id,
    'danger',
    confirmDialog(
      'Revoke access?',
      `${mention(grant.requester.slackUserId)} loses access to ${where(grant)} now. Only approvers of this namespace can revoke.`,
      'Revoke',
      'danger',
    ),
  );

/** Whether a level is privileged, for the buttons that ask before approving it. */
export type IsPrivileged = (level: string) => boolean;
const notPrivileged: IsPrivileged = () => false;

/** Action ids: the only thing a button carries besides the grant id. */
export const ACTIONS = {
  approve: 'approve',
  deny: 'deny',
  approveExtension: 'approve_extension',
  denyExtension: 'deny_extension',
  extend: 'extend',
  done: 'done',
  cancel: 'cancel',
  revoke: 'revoke',
  openRequest: 'open_request',
  acknowledgeBreakGlass: 'breakglass_ack',
  flagBreakGlass: 'breakglass_flag',
} as const;

/**
 * At most `max` blocks and (for views) `maxBytes` of JSON: what does not fit is named in a last line
 * instead of Slack refusing the whole message or view.
 */
function cappedBlocks(blocks: Block[], max: number, maxBytes = Number.POSITIVE_INFINITY): Block[] {
  const more = (n: number) => context(`…and ${n} more; \`/eks-access list\` shows all.`);
  // Room for the "…and N more" line itself.
  let budget = maxBytes - jsonBytes(more(blocks.length)) - 1_000;
  let kept = 0;
  while (kept < blocks.length && kept < max) {
    budget -= jsonBytes(blocks[kept]) + 1;
    if (budget < 0) break;
    kept += 1;
  }
  if (kept === blocks.length) return blocks;
  if (kept === max) kept = max - 1;
  return [...blocks.slice(0, kept), more(blocks.length - kept)];
}

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

const message = (text: string, blocks: Block[]): Message => ({
  text: cut(text, LIMITS.fallbackText),
  blocks: cappedBlocks(blocks, LIMITS.messageBlocks),
});

const where = (g: Pick<Grant, 'namespace' | 'cluster'>) => `\`${g.namespace}\` on \`${g.cluster}\``;

/** The dry run in a few lines: what exactly would exist on AWS and on the cluster. */
export function planSummary(plan: AccessPlan): string {
  const lines: string[] = [];
  if (plan.personalRole) {
    lines.push(
      `• IAM role \`${plan.personalRole.name}\` assumable only by \`${esc(plan.mapping.mode === 'none' ? '' : (plan.personalRole.trustPolicy.Statement[0]?.Principal.AWS ?? ''))}\` until ${slackTime(Date.parse(plan.expiresAt))}`,
    );
  }
  if (plan.mapping.mode === 'aws-auth')
    lines.push(`• \`aws-auth\` entry mapping it to Kubernetes user \`${esc(plan.username)}\``);
  if (plan.mapping.mode === 'access-entries')
    lines.push(`• EKS access entry for Kubernetes user \`${esc(plan.username)}\``);
  if (plan.role)
    lines.push(
      `• Role \`${plan.role.metadata.name}\` in \`${plan.namespace}\` (${plan.role.rules.length} rule(s))`,
    );
  const ref = plan.roleBinding.roleRef;
  lines.push(
    `• RoleBinding \`${plan.roleBinding.metadata.name}\` → ${ref.kind} \`${ref.name}\` for \`${esc(plan.username)}\``,
  );
  return lines.join('\n');
}

export function planFor(policy: Policy, grant: Grant, now: number): AccessPlan | undefined {
  try {
    return planGrant({ policy, grant, expiresAt: grant.expiresAt ?? now + grant.durationSeconds * 1000 });
  } catch {
    return undefined; // the cluster or level left the policy; the message still shows the grant
  }
}

/**
 * Who approved: people by mention; a rule by what made it apply, e.g. "auto-approved: @ana is on call
 * (group @oncall)" with the membership the bot saw at request time.
 */
function approvedBy(grant: Grant): string {
  // A record rebuilt from its sealed RoleBinding after Redis lost it: the binding does not say who approved.
  if (grant.rebuilt && grant.approvals.length === 0) return 'unknown (rebuilt after Redis lost its data)';
  return grant.approvals
    .map((a) => {
      if (!a.autoRule || !a.viaGroups?.length) return mention(a.slackUserId);
      const groups = a.viaGroups.map((g) => `<!subteam^${g}>`).join(', ');
      return `auto-approval: ${mention(grant.requester.slackUserId)} ${a.onCall ? 'is on call' : 'is a member'} (group ${groups}; rule \`${esc(a.autoRule)}\`)`;
    })
    .join(', ');
}

function approvalProgress(grant: Grant): string {
  const people = grant.approvals.map((a) => mention(a.slackUserId));
  return `${grant.approvals.length} of ${grant.requiredApprovals} approval${grant.requiredApprovals === 1 ? '' : 's'}${people.length ? `: ${people.join(', ')}` : ''}`;
}

/** The policy's setupDeadline in ms: past it an approved grant reads as taking longer than expected. */
export const setupDeadlineMs = (policy: Policy): number =>
  (parseDuration(policy.settings.setupDeadline) ?? 300) * 1000;

/** What requester and approvers are told when setting up access takes longer than expected. */
export const SETUP_SLOW_ADVICE =
  'eks-access keeps retrying by itself, and nobody needs to request or approve anything again; the access lasts its full time from when it works. ' +
  'If it is still not active in a few minutes, the platform team should check that the eks-access worker is running (its `/healthz`, `eks-access doctor`).';

/**
 * What has happened to this grant, in the words the approval message shows under the request. With
 * the policy's setup deadline, an approved grant past it says setup is taking longer than expected.
 */
export function grantStatusText(grant: Grant, now: number, setupDeadline?: number): string {
  if (setupDeadline !== undefined && setupOverdue(grant, now, setupDeadline)) {
    return `:warning: *Approved* by ${approvedBy(grant)} — setting up access is taking longer than expected (it was due ${slackTime(setupDueAt(grant, setupDeadline) ?? now)}). ${SETUP_SLOW_ADVICE}`;
  }
  switch (grant.status) {
    case 'pending':
      return `:hourglass_flowing_sand: *Waiting for approval* — ${approvalProgress(grant)}. Lapses at ${slackTime(grant.pendingUntil)} if nobody decides.`;
    case 'approved':
      return grant.startsAt !== undefined && grant.startsAt > now
        ? `:calendar: *Approved* by ${approvedBy(grant)} — opens at ${slackTime(grant.startsAt)}, not before.`
        : `:white_check_mark: *Approved* by ${approvedBy(grant)} — setting up access…`;
    case 'active':
      return `:large_green_circle: *Active* until ${slackTime(grant.expiresAt ?? now)} (${formatDuration(secondsLeft(grant, now))} left) — approved by ${approvedBy(grant)}`;
    case 'revoking':
      return `:hourglass: *Ending* (${grant.endReason ?? 'ending'})${grant.endedBy ? ` by ${endedByText(grant.endedBy)}` : ''}…${endNoteText(grant)}`;
    case 'expired':
      return `:checkered_flag: *Expired* at ${slackTime(grant.endedAt ?? now)}; access removed.`;
    case 'revoked':
      return `:no_entry: *Revoked* by ${endedByText(grant.endedBy ?? 'system')} at ${slackTime(grant.endedAt ?? now)}; access removed.${endNoteText(grant)}`;
    case 'relinquished':
      return `:wave: *Given back* by ${mention(grant.requester.slackUserId)} at ${slackTime(grant.endedAt ?? now)}; access removed.`;
    case 'denied':
      return `:x: *Denied* by ${mention(grant.denial?.by ?? '?')}: ${esc(cut(grant.denial?.reason ?? '', 500))}`;
    case 'cancelled':
      return grant.endedBy === 'system'
        ? `:zzz: *Lapsed*: nobody decided before ${slackTime(grant.pendingUntil)}.`
        : `:leftwards_arrow_with_hook: *Cancelled* by ${mention(grant.endedBy ?? grant.requester.slackUserId)}.`;
    case 'failed':
      return `:warning: *Failed*: ${esc(cut(grant.failure?.reason ?? 'unknown', 500))}. Nothing was left behind.`;
  }
}

/** An approver's reason for revoking, as they typed it (escaped). */
const endNoteText = (grant: Grant) => (grant.endNote ? `\n*Reason:* ${esc(cut(grant.endNote, 500))}` : '');

const endedByText = (actor: string) =>
  actor === 'system' ? 'eks-access' : actor.startsWith('cli:') ? `\`${esc(actor)}\`` : mention(actor);

/** Approve/Deny of a pending grant; the version in the block id gives an updated message fresh buttons. */
const decideBlock = (policy: Policy, grant: Grant): Block => ({
  type: 'actions',
  block_id: `decide:${grant.id}:${grant.version}`,
  elements: decideButtons(grant, policy.levels[grant.level]?.privileged ?? false),
});

/** An active grant's buttons on its approval message (Revoke, and on a shared message an extension's). */
const manageBlock = (grant: Grant, elements: Block[]): Block => ({
  type: 'actions',
  block_id: `manage:${grant.id}:${grant.version}`,
  elements,
});

type ExtensionAsk = NonNullable<Grant['extensionRequest']>;
const extensionAskText = (grant: Grant, ask: ExtensionAsk) =>
  `:stopwatch: ${mention(ask.by)} asks for ${formatDuration(ask.seconds)} more.${extensionQuorumText(grant)}`;
/** Nobody decided an extension before the grant ended; the ask ended with it. */
const extensionLapsedText = (ask: ExtensionAsk) =>
  `:stopwatch: ${mention(ask.by)}'s request for ${formatDuration(ask.seconds)} more was not decided before the access ended; it lapsed with it.`;

/** The message in the namespace's approval channel; it is updated through the grant's whole life. */
export function approvalMessage(policy: Policy, grant: Grant, now: number): Message {
  const plan = planFor(policy, grant, now);
  const blocks: Block[] = [
    header(`Access request ${grant.id}`),
    {
      type: 'section',
      fields: [
        field(
          `*Who*\n${mention(grant.requester.slackUserId)} (\`${esc(cut(grant.requester.principalArn, 300))}\`)`,
        ),
        field(
          `*What*\n\`${grant.level}\`${policy.levels[grant.level]?.description ? ` — ${esc(policy.levels[grant.level]?.description ?? '')}` : ''}`,
        ),
        field(`*Where*\n${where(grant)}`),
        field(
          `*How long*\n${windowWords(grant) ?? formatDuration(grant.durationSeconds)}${grant.extensions.length ? ` (+${formatDuration(grant.extensions.reduce((s, e) => s + e.seconds, 0))} extended)` : ''}`,
        ),
      ],
    },
    section(
      `*Why*\n${grant.reason ? linkedReason(cut(grant.reason, 1000), policy.tickets) : '_no reason given_'}`,
    ),
  ];
  for (const warning of plan?.warnings ?? []) {
    blocks.push(section(`:warning: *${esc(warning)}* It needs ${grant.requiredApprovals} approvals.`));
  }
  if (grant.alreadyHolds) {
    blocks.push(section(heldText(grant.alreadyHolds, `${mention(grant.requester.slackUserId)} already has`)));
  }
  if (plan) blocks.push(context(`*Would create*\n${planSummary(plan)}`));
  if (grant.breakGlass) blocks.splice(1, 0, ...breakGlassBlocks(grant));
  if (grant.group) {
    blocks.push(
      context(
        `One of ${grant.group.size} targets of request \`${grant.group.id}\`: each target is approved by its own approvers and ends on its own.`,
      ),
    );
  }
  blocks.push(divider, section(grantStatusText(grant, now, setupDeadlineMs(policy))));
  if (grant.status === 'pending') {
    // Mentioned, so the approvers are notified of a new request (an update does not notify again).
    const ns = namespacePolicyOf(policy, grant);
    if (ns) blocks.push(context(`*Approvers:* ${approverMentions(ns.approvers)}`));
    blocks.push(decideBlock(policy, grant));
  }
  if (grant.status === 'active') blocks.push(manageBlock(grant, [revokeButton(grant)]));
  if (grant.status === 'active' && grant.extensionRequest) {
    blocks.push(section(extensionAskText(grant, grant.extensionRequest)), {
      type: 'actions',
      block_id: `extend:${grant.id}:${grant.version}`,
      elements: extensionButtons(grant),
    });
  } else if (grant.status === 'active' && grant.extensionDenial) {
    blocks.push(section(extensionDeniedText(grant.extensionDenial)));
  } else if (grant.extensionRequest && grant.status !== 'active') {
    // Nobody decided before the grant ended; the ask ends with it.
    blocks.push(context(extensionLapsedText(grant.extensionRequest)));
  }
  // The notification text: a real mention, so the preview reads "@alice wants…", not a user id.
  const text = `Access request ${grant.id}: ${mention(grant.requester.slackUserId)} wants ${grant.level} in ${grant.namespace} on ${grant.cluster} — ${slackStatusLine(grant, now)}`;
  return message(text, blocks);
}

/**
 * One approval message (a part of one, when split) for the targets of a request that share an
 * approval channel: `grants` in the request's order, `part` which of the channel's messages this is.
 */
export interface ApprovalMessagePart {
  channel: string;
  /** 0 for the channel's first message; more only when the targets do not fit in one. */
  part: number;
  /** How many messages the channel's targets need. */
  parts: number;
  grants: Grant[];
}

/** The blocks a shared message spends on the request itself (header, who/what, why, a note). */
export const SHARED_HEADER_BLOCKS = 4;
/** The most one target can take (divider, status, details, buttons), whatever its state. */
export const SHARED_TARGET_BLOCKS = 4;
/** How many targets one shared message holds within Slack's 50 blocks. */
export const TARGETS_PER_MESSAGE = Math.floor(
  (LIMITS.messageBlocks - SHARED_HEADER_BLOCKS) / SHARED_TARGET_BLOCKS,
);

/**
 * Which targets of a request share which approval message: one per approval channel (in the order the
 * channels first appear in the request), split into as few messages as fit Slack's 50 blocks, each
 * holding consecutive targets. Depends only on the targets and the policy, never on their state, so
 * every notification of every target finds the same layout. Targets without a channel get none.
 */
export function approvalLayout(
  policy: Policy,
  grants: readonly Grant[],
  perMessage: number = TARGETS_PER_MESSAGE,
): ApprovalMessagePart[] {
  const byChannel = new Map<string, Grant[]>();
  for (const grant of grants) {
    const channel = namespacePolicyOf(policy, grant)?.channel;
    if (!channel) continue;
    byChannel.set(channel, [...(byChannel.get(channel) ?? []), grant]);
  }
  const layout: ApprovalMessagePart[] = [];
  for (const [channel, inChannel] of byChannel) {
    const parts = Math.ceil(inChannel.length / perMessage);
    for (let part = 0; part < parts; part++) {
      layout.push({
        channel,
        part,
        parts,
        grants: inChannel.slice(part * perMessage, (part + 1) * perMessage),
      });
    }
  }
  return layout;
}

/** The one value all targets share, or undefined when they differ (then each target shows its own). */
function shared<T>(grants: readonly Grant[], pick: (g: Grant) => T): T | undefined {
  const first = grants[0];
  if (!first) return undefined;
  const value = pick(first);
  return grants.every((g) => pick(g) === value) ? value : undefined;
}

const howLong = (grant: Grant) =>
  `${windowWords(grant) ?? formatDuration(grant.durationSeconds)}${grant.extensions.length ? ` (+${formatDuration(grant.extensions.reduce((s, e) => s + e.seconds, 0))} extended)` : ''}`;

/**
 * The approval message shared by the targets of one request in one channel: the request once (who,
 * what, how long, why), then each target compactly — where, its status, what it would create, its
 * approvers while it waits, and its own buttons (Approve/Deny while pending, Revoke and an extension's
 * buttons while active), whose values carry that target's grant id. At most SHARED_TARGET_BLOCKS per
 * target, so approvalLayout's split always fits; one target is the ordinary approvalMessage.
 */
export function sharedApprovalMessage(
  policy: Policy,
  grants: readonly Grant[],
  now: number,
  part: Pick<ApprovalMessagePart, 'part' | 'parts'> = { part: 0, parts: 1 },
): Message {
  const first = grants[0];
  if (!first) throw new Error('a shared approval message needs at least one target');
  const group = first.group ?? { id: first.id, size: grants.length };
  const level = shared(grants, (g) => g.level);
  const arn = shared(grants, (g) => g.requester.principalArn);
  const duration = shared(grants, howLong);
  const of = part.parts > 1 ? ` (part ${part.part + 1} of ${part.parts})` : '';
  const blocks: Block[] = [
    header(`Access request ${group.id}${of}`),
    {
      type: 'section',
      fields: [
        field(`*Who*\n${mention(first.requester.slackUserId)}${arn ? ` (\`${esc(cut(arn, 300))}\`)` : ''}`),
        field(
          level
            ? `*What*\n\`${level}\`${policy.levels[level]?.description ? ` — ${esc(policy.levels[level]?.description ?? '')}` : ''}`
            : '*What*\nper target, below',
        ),
        field(`*Where*\n${cut(grants.map(where).join(', '), 1_900)}`),
        field(`*How long*\n${duration ?? 'per target, below'}`),
      ],
    },
    section(
      `*Why*\n${first.reason ? linkedReason(cut(first.reason, 1000), policy.tickets) : '_no reason given_'}`,
    ),
    context(
      `${grants.length} of the ${group.size} targets of request \`${group.id}\` are approved here${part.parts > 1 ? ` (this message shows ${grants.length})` : ''}: each by its own approvers, each ending on its own.`,
    ),
  ];
  for (const grant of grants)
    blocks.push(...sharedTargetBlocks(policy, grant, now, { level, arn, duration }));
  const states = grants.map((g) => `${g.namespace} on ${g.cluster}: ${slackStatusLine(g, now)}`).join('; ');
  // A real mention, so the preview reads "@alice wants…".
  const text = `Access request ${group.id}${of}: ${mention(first.requester.slackUserId)} wants ${level ?? 'access'} — ${states}`;
  return message(text, blocks);
}

/** One target of a shared approval message: at most SHARED_TARGET_BLOCKS blocks. */
function sharedTargetBlocks(
  policy: Policy,
  grant: Grant,
  now: number,
  common: { level: string | undefined; arn: string | undefined; duration: string | undefined },
): Block[] {
  const plan = planFor(policy, grant, now);
  const own = [
    common.level ? '' : ` · \`${grant.level}\``,
    common.duration ? '' : ` · ${howLong(grant)}`,
    common.arn ? '' : ` · \`${esc(cut(grant.requester.principalArn, 300))}\``,
  ].join('');
  const warnings = (plan?.warnings ?? []).map(
    (w) => `\n:warning: *${esc(w)}* It needs ${grant.requiredApprovals} approvals.`,
  );
  const blocks: Block[] = [
    divider,
    section(
      `*${where(grant)}* · \`${grant.id}\`${own}\n${grantStatusText(grant, now, setupDeadlineMs(policy))}${warnings.join('')}`,
    ),
  ];
  const details: string[] = [];
  if (plan) details.push(`*Would create*\n${planSummary(plan)}`);
  if (grant.status === 'pending') {
    const ns = namespacePolicyOf(policy, grant);
    // Mentioned, so the approvers of this target are notified (an update does not notify again).
    if (ns) details.push(`*Approvers:* ${approverMentions(ns.approvers)}`);
  }
  if (grant.status === 'active' && grant.extensionRequest) {
    details.push(extensionAskText(grant, grant.extensionRequest));
  } else if (grant.status === 'active' && grant.extensionDenial) {
    details.push(extensionDeniedText(grant.extensionDenial));
  } else if (grant.extensionRequest && grant.status !== 'active') {
    details.push(extensionLapsedText(grant.extensionRequest));
  }
  if (details.length > 0) blocks.push(context(details.join('\n')));
  if (grant.status === 'pending') blocks.push(decideBlock(policy, grant));
  if (grant.status === 'active') {
    // Revoke and the extension's buttons in one block: their action ids differ, the value names the grant.
    const extension = grant.extensionRequest ? extensionButtons(grant) : [];
    blocks.push(manageBlock(grant, [revokeButton(grant), ...extension]));
  }
  return blocks;
}

/**
 * The line a change adds to the approval message's thread, so the channel shows the story of a
 * request (asked, approved, active, extended, ended…); undefined for changes not worth a line there.
 */
export function threadNoteText(grant: Grant, event: GrantEvent, now: number): string | undefined {
  const note = noteText(grant, event, now);
  // A target of a request on several may share its message with others: the line says which.
  return note && grant.group ? `${where(grant)} (\`${grant.id}\`): ${note}` : note;
}

/**
 * A DM that carries access could not be delivered (their DMs refuse the app, or it could not get
 * through before the grant ended): the approval thread tells the requester, by mention, and where to
 * look instead. Never the commands themselves: the channel is not theirs alone.
 */
export function dmUndeliveredNote(
  grant: Grant,
  kind: GrantEvent['kind'],
  slackError: string | undefined,
): Message {
  const what =
    kind === 'ended'
      ? `your access to ${where(grant)} has ended`
      : `your access to ${where(grant)} is ready (request \`${grant.id}\`); the commands are in eks-access's *Home* tab`;
  const text = `${mention(grant.requester.slackUserId)}, Slack did not deliver my direct message to you${slackError ? ` (\`${esc(slackError)}\`)` : ''}: ${what}.`;
  return { text, blocks: [section(text)] };
}

function noteText(grant: Grant, event: GrantEvent, now: number): string | undefined {
  switch (event.kind) {
    case 'approval-progress':
      return `${mention(event.by)} approved; ${grant.approvals.length} of ${grant.requiredApprovals}.`;
    case 'approved':
      return `:white_check_mark: Approved by ${mention(event.by)}; setting up access.`;
    case 'activated':
      return `:large_green_circle: Access is active until ${slackTime(grant.expiresAt ?? now)}.`;
    case 'denied':
      return `:x: Denied by ${mention(event.by)}: ${esc(cut(event.reason, 500))}`;
    case 'cancelled':
      return event.by === 'system'
        ? ':zzz: Lapsed: nobody decided in time.'
        : `:leftwards_arrow_with_hook: Withdrawn by ${mention(event.by)}.`;
    case 'ended':
      return grantStatusText(grant, now);
    case 'failed':
      return `:warning: Access could not be set up: ${esc(cut(event.reason, 500))}`;
    case 'extension-requested':
      return `${mention(event.by)} asks to extend this by ${formatDuration(event.seconds)}.`;
    case 'extension-approval-progress':
      return `${mention(event.by)} approved the extension; ${event.approvals} of ${event.required}.`;
    case 'extended':
      return `:stopwatch: Extended by ${formatDuration(event.seconds)} (${mention(event.by)}); now ends at ${slackTime(grant.expiresAt ?? now)}.`;
    case 'extension-denied':
      return `:no_entry_sign: ${mention(event.by)} denied the extension: ${esc(cut(event.reason, 500))}`;
    case 'setup-overdue':
      return `:warning: Setting up access for ${mention(grant.requester.slackUserId)} is taking longer than expected. ${SETUP_SLOW_ADVICE}`;
    default:
      return undefined;
  }
}

/**
 * Who approves a namespace, as mentions that notify them: `<@U…>` for people, `<!subteam^S…>` for
 * user groups.
 */
export const approverMentions = (approvers: {
  users: readonly string[];
  groups: readonly string[];
}): string =>
  [...approvers.groups.map((g) => `<!subteam^${g}>`), ...approvers.users.map((u) => `<@${u}>`)].join(' ');

/** Asks the approvers again, in the approval message's thread (also sent to the channel). */
export function approverReminder(grant: Grant, approvers: string, now: number): Message {
  const missing = Math.max(1, grant.requiredApprovals - grant.approvals.length);
  const text = `:bell: ${approvers} ${mention(grant.requester.slackUserId)} still waits for ${missing} approval(s) of \`${grant.level}\` in ${where(grant)}; it lapses ${slackTime(grant.pendingUntil)} (${formatDuration(Math.max(0, Math.round((grant.pendingUntil - now) / 1000)))} left).`;
  return message(text, [section(text)]);
}

/**
 * One reminder for the targets of one request still waiting in a shared approval message: their approvers
 * mentioned once, a line per target (they were asked together, so they lapse together).
 */
export function sharedApproverReminder(grants: readonly Grant[], approvers: string, now: number): Message {
  const first = grants[0];
  if (!first) throw new Error('a shared reminder needs at least one target');
  if (grants.length === 1) return approverReminder(first, approvers, now);
  const lines = grants.map(
    (g) =>
      `• \`${g.level}\` in ${where(g)} (\`${g.id}\`): ${Math.max(1, g.requiredApprovals - g.approvals.length)} approval(s)`,
  );
  const lapse = Math.min(...grants.map((g) => g.pendingUntil));
  const text = `:bell: ${approvers} ${mention(first.requester.slackUserId)} still waits for ${grants.length} targets; they lapse ${slackTime(lapse)} (${formatDuration(Math.max(0, Math.round((lapse - now) / 1000)))} left).\n${lines.join('\n')}`;
  return message(text, [section(text)]);
}

/** The same reminder by DM, when the approval message could not be posted. */
export function approverReminderDm(grant: Grant, now: number): Message {
  const text = `:bell: ${mention(grant.requester.slackUserId)} asked for \`${grant.level}\` in ${where(grant)} (\`${grant.id}\`) and still waits for a decision; it lapses ${slackTime(grant.pendingUntil)} (${formatDuration(Math.max(0, Math.round((grant.pendingUntil - now) / 1000)))} left). \`/eks-access approvals\` lists it with Approve and Deny.`;
  return message(text, [section(text)]);
}

/** A line linking a DM to the approval message it is about. */
export function withApprovalLink(dm: Message, permalink: string): Message {
  return { ...dm, blocks: [...dm.blocks, context(`<${permalink}|The request in its approval channel>`)] };
}

/**
 * A time each reader sees in their own time zone (Slack's date formatting), with the UTC text as the
 * fallback for clients that cannot format it.
 */
export const slackTime = (epochMs: number): string =>
  `<!date^${Math.floor(epochMs / 1000)}^{date_short_pretty} {time}|${humanTime(epochMs)}>`;

/** The status line with times as Slack dates and typed reasons escaped. */
const slackStatusLine = (grant: Grant, now: number) => statusLine(grant, now, { time: slackTime, text: esc });

/** DMs to the requester, one per event that concerns them. */
export function activatedDm(policy: Policy, grant: Grant, now: number): Message {
  const commands = accessCommands(policy, grant);
  return message(
    `Your access to ${grant.namespace} on ${grant.cluster} is ready until ${slackTime(grant.expiresAt ?? now)}`,
    [
      section(
        `:white_check_mark: *Approved* — you have \`${grant.level}\` in ${where(grant)} until *${slackTime(grant.expiresAt ?? now)}* (${formatDuration(secondsLeft(grant, now))}).`,
      ),
      section(`*Use it:*\n\`\`\`${commands.join('\n')}\`\`\``),
      context(`Request \`${grant.id}\` · give it back early with \`/eks-access done ${grant.id}\``),
      {
        type: 'actions',
        block_id: `mine:${grant.id}`,
        elements: [doneButton(grant)],
      },
    ],
  );
}

/** A window was approved: when it opens and closes, and that the commands come before it opens. */
export function windowApprovedDm(grant: Grant): Message {
  return message(`Your window ${grant.id} is approved`, [
    section(
      `:calendar: Your request for \`${grant.level}\` in ${where(grant)} was *approved* by ${approvedBy(grant)}: access ${windowWords(grant) ?? ''}, not before. The commands come shortly before it opens.`,
    ),
    context(`Request \`${grant.id}\` · withdraw it with \`/eks-access done ${grant.id}\``),
  ]);
}

/** Before an approved window opens: the exact commands, which work from the start. */
export function windowOpensSoonDm(policy: Policy, grant: Grant): Message {
  return message(
    `Your access to ${grant.namespace} on ${grant.cluster} opens at ${slackTime(grant.startsAt ?? 0)}`,
    [
      section(
        `:alarm_clock: Your \`${grant.level}\` window in ${where(grant)} opens at *${slackTime(grant.startsAt ?? 0)}* and ends at *${slackTime(windowEnd(grant) ?? 0)}*. From the start, run:`,
      ),
      section(`\`\`\`${accessCommands(policy, grant).join('\n')}\`\`\``),
      context(`Request \`${grant.id}\` · they are refused before the start and after the end`),
    ],
  );
}

export function deniedDm(grant: Grant): Message {
  return message(`Your request ${grant.id} was denied`, [
    section(
      `:x: Your request for \`${grant.level}\` in ${where(grant)} was *denied* by ${mention(grant.denial?.by ?? '?')}.\n*Reason:* ${esc(cut(grant.denial?.reason ?? '', 1000))}`,
    ),
  ]);
}

export function failedDm(grant: Grant): Message {
  return message(`Your access ${grant.id} could not be set up`, [
    section(
      `:warning: Access to ${where(grant)} *could not be set up*: ${esc(cut(grant.failure?.reason ?? 'unknown', 1000))}`,
    ),
    section(failureAdvice(grant)),
  ]);
}

export function expiringDm(grant: Grant, now: number): Message {
  return message(`Your access to ${grant.namespace} ends at ${slackTime(grant.expiresAt ?? now)}`, [
    section(
      `:alarm_clock: Your access to ${where(grant)} ends at *${slackTime(grant.expiresAt ?? now)}* (${formatDuration(secondsLeft(grant, now))} left).`,
    ),
    {
      type: 'actions',
      block_id: `expiring:${grant.id}`,
      elements: [button('Extend', ACTIONS.extend, grant.id, 'primary'), doneButton(grant)],
    },
  ]);
}

export function endedDm(grant: Grant, now: number): Message {
  const lapsed = grant.extensionRequest
    ? `\nYour request for ${formatDuration(grant.extensionRequest.seconds)} more was not decided in time and lapsed with it.`
    : '';
  return message(`Your access ${grant.id} ended`, [
    section(`${grantStatusText(grant, now)}\n${where(grant)}, request \`${grant.id}\`.${lapsed}`),
    // Only a grant that was usable has anything to say about sessions (docs/engine.md, "Logging in").
    ...(grant.activatedAt === undefined ? [] : [context(STREAMS_OUTLIVE_ACCESS)]),
  ]);
}

/**
 * What ending access does not cut: RBAC refuses new requests at once and the API server stops accepting
 * the person's tokens within its webhook token cache TTL (2 minutes by default), but a stream that is already
 * open (exec, attach, port-forward, logs -f) was authorised when it began and runs until it closes.
 */
export const STREAMS_OUTLIVE_ACCESS =
  'New `kubectl` requests are refused from now on (a token the cluster already checked may still work for a couple of minutes). ' +
  'A `kubectl exec`, `attach`, `port-forward` or `logs -f` you still have open keeps running until you close it: close it now.';

/** To the requester when setting up their approved access takes longer than the policy's deadline. */
export function setupSlowDm(grant: Grant, now: number, setupDeadline: number): Message {
  return message(`Setting up your access ${grant.id} is taking longer than expected`, [
    section(
      `:warning: Your access to ${where(grant)} (\`${grant.id}\`) was approved but is not set up yet; it was due ${slackTime(setupDueAt(grant, setupDeadline) ?? now)}. ${SETUP_SLOW_ADVICE} You get the DM with the commands as soon as it works.`,
    ),
  ]);
}

export function cancelledDm(grant: Grant, now: number): Message {
  return message(`Your request ${grant.id} ended without a decision`, [
    section(`${grantStatusText(grant, now)} (${where(grant)}, \`${grant.id}\`)`),
  ]);
}

export function extendedDm(grant: Grant, by: string, seconds: number, now: number): Message {
  return message(`Your access ${grant.id} was extended`, [
    section(
      `:stopwatch: ${by === grant.requester.slackUserId ? 'Extended' : `${mention(by)} extended your access`} by ${formatDuration(seconds)}: ${where(grant)} now ends at *${slackTime(grant.expiresAt ?? now)}*.`,
    ),
  ]);
}

const extensionDeniedText = (d: NonNullable<Grant['extensionDenial']>) =>
  `:no_entry_sign: An extension of ${formatDuration(d.seconds)} was *denied* by ${mention(d.by)}${d.reason ? `: ${esc(cut(d.reason, 500))}` : ''}`;

export function extensionDeniedDm(grant: Grant, now: number): Message {
  const denial = grant.extensionDenial;
  return message(`Your extension of ${grant.id} was denied`, [
    section(
      `${denial ? extensionDeniedText(denial) : ':no_entry_sign: Your extension was denied'}.\nYour access to ${where(grant)} still ends at *${slackTime(grant.expiresAt ?? now)}* (${formatDuration(secondsLeft(grant, now))} left).`,
    ),
  ]);
}

/** The answer to an extension the policy grants at once: the worker applies it and DMs. */
export function extensionApplyingText(grant: Grant, seconds: number): string {
  return `Extending \`${grant.id}\` by ${formatDuration(seconds)}; you get a message when the new end time is in place.`;
}

/** A decided extension that could not be applied: the end time stays. */
export function extensionFailedDm(grant: Grant, seconds: number, reason: string, now: number): Message {
  return message(`Your extension of ${grant.id} could not be applied`, [
    section(
      `:warning: The extension of ${formatDuration(seconds)} on ${where(grant)} could not be applied: ${esc(cut(reason, 500))}.\n` +
        (grant.status === 'active'
          ? `Your access still ends at *${slackTime(grant.expiresAt ?? now)}*; ask again with \`/eks-access extend ${grant.id}\`.`
          : `The access is ${grant.status}.`),
    ),
  ]);
}

export function extensionWaitingText(grant: Grant, seconds: number): string {
  return `Asked the approvers of ${where(grant)} for ${formatDuration(seconds)} more on \`${grant.id}\`; you will get a message when they decide.`;
}

/** The answer to `extend` and to the Extend form: being applied, or asked of the approvers. */
export const extensionOutcomeText = (outcome: ExtensionOutcome): string =>
  outcome.kind === 'applying'
    ? extensionApplyingText(outcome.grant, outcome.extension.seconds)
    : extensionWaitingText(outcome.grant, outcome.grant.extensionRequest?.seconds ?? 0);

/** One line for the audit channel: who did what to which grant (privileged levels stand out). */
export function auditLine(
  grant: Grant,
  action: string,
  actor: string,
  now: number,
  privileged = false,
): Message {
  const level = privileged ? `:warning: privileged \`${grant.level}\`` : `\`${grant.level}\``;
  const text = `\`${grant.id}\` ${action} by ${endedByText(actor)} — ${mention(grant.requester.slackUserId)} · ${level} · ${where(grant)} · ${slackStatusLine(grant, now)}`;
  return message(`${grant.id} ${esc(action)} by ${endedByText(actor)}`, [context(text)]);
}

/**
 * The domain writes times as `2026-05-01 14:30 UTC` (humanTime, chat-agnostic); in Slack each becomes
 * a Slack date, so a reader sees their own time zone as everywhere else.
 */
export const slackDatesIn = (text: string): string =>
  text.replace(/\b(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}) UTC\b/g, (_, y, mo, d, h, mi) =>
    slackTime(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi))),
  );

/** Any error as an ephemeral message: the headline for its kind, what happened, what to do. */
export function errorMessage(error: AccessError): Message {
  const detail = error.kind === 'internal' ? '' : slackDatesIn(escHint(cut(error.message, 1500)));
  const hint = error.hint ? slackDatesIn(escHint(cut(error.hint, 1200))) : '';
  const headline = headlineOf(error);
  const text = [`*${headline}*`, detail, hint].filter(Boolean).join('\n');
  return message(`${headline}${detail ? `: ${detail}` : ''}`, [section(text)]);
}

/** The command list, its examples in the running policy's own names (issue #19). */
export function helpMessage(policy?: Policy): Message {
  const lines = commandHelp(policy).map(
    (c) => `• \`/eks-access ${c.usage}\`\n   ${c.says} e.g. \`/eks-access ${c.example}\``,
  );
  return message('eks-access commands', [
    section('*eks-access* gives you time-limited access to a Kubernetes namespace after approval.'),
    section(lines.join('\n')),
    context('Durations: `30m`, `2h`, `1h30m`, `1d`. Keywords may come in any order; `in` works like `on`.'),
  ]);
}

function grantLine(grant: Grant, now: number): string {
  return `\`${grant.id}\` · \`${grant.level}\` in ${where(grant)} — ${slackStatusLine(grant, now)}`;
}

/** `part` keeps block ids unique when one grant shows twice (your own request, which you may approve). */
function grantRow(grant: Grant, now: number, buttons: Block[], part = 'row'): Block[] {
  const row: Block = { type: 'section', text: mrkdwn(grantLine(grant, now)) };
  return buttons.length
    ? [row, { type: 'actions', block_id: `${part}:${grant.id}`, elements: buttons }]
    : [row];
}

/** `list`: my requests and grants as an ephemeral message. */
export function listMessage(model: HomeModel): Message {
  const all = [...model.live, ...model.pending, ...model.recent];
  if (all.length === 0)
    return message('You have no requests', [
      section('You have no requests. Try `/eks-access request <namespace>`.'),
    ]);
  return message('Your requests', [
    section('*Your requests*'),
    ...all.map((g) => section(grantLine(g, model.now))),
  ]);
}

export function approvalsMessage(
  grants: Grant[],
  now: number,
  extensions: Grant[] = [],
  privileged: IsPrivileged = notPrivileged,
): Message {
  if (grants.length === 0 && extensions.length === 0)
    return message('Nothing waits for your approval', [section('Nothing waits for your approval.')]);
  return message('Waiting for your approval', [
    section(`*Waiting for your approval* (${grants.length + extensions.length})`),
    ...grants.flatMap((g) => grantRow(g, now, decideButtons(g, privileged(g.level)))),
    ...extensions.flatMap((g) => extensionRow(g, now)),
  ]);
}

/**
 * Approve/Deny for the extension waiting now, bound to that ask (`<grant id>/<extension id>`, or when it
 * was asked for records without ids): a click on an older ask's button is refused, never applied to a
 * newer amount.
 */
function extensionButtons(grant: Grant): Block[] {
  const asked = grant.extensionRequest;
  const value = `${grant.id}/${asked?.id ?? asked?.at ?? ''}`;
  return [
    button('Approve extension', ACTIONS.approveExtension, value, 'primary'),
    button('Deny extension', ACTIONS.denyExtension, value, 'danger'),
  ];
}

/** How far an extension's quorum got, when it needs more than one approver. */
function extensionQuorumText(grant: Grant): string {
  const approvals = grant.extensionRequest?.approvals ?? [];
  if (approvals.length === 0) return '';
  return ` Approved so far by ${approvals.map((a) => mention(a.slackUserId)).join(', ')}.`;
}

/** An extension waiting for a decision: who, which grant, how much more, and the same buttons as the approval message. */
export function extensionWaitingLine(grant: Grant, now: number): string {
  const asked = grant.extensionRequest;
  return `:stopwatch: ${mention(asked?.by ?? grant.requester.slackUserId)} asks for ${formatDuration(asked?.seconds ?? 0)} more on \`${grant.id}\` · \`${grant.level}\` in ${where(grant)}, which ends at ${slackTime(grant.expiresAt ?? now)} (${formatDuration(secondsLeft(grant, now))} left)`;
}

function extensionRow(grant: Grant, now: number): Block[] {
  return [
    section(extensionWaitingLine(grant, now)),
    {
      type: 'actions',
      block_id: `extend:${grant.id}`,
      elements: extensionButtons(grant),
    },
  ];
}

/** The App Home tab. */
export function homeView(
  model: HomeModel,
  privileged: IsPrivileged = notPrivileged,
  /** The commands of a live grant, shown under it: where they are when the DM could not be delivered. */
  commandsOf?: (grant: Grant) => readonly string[],
): { type: 'home'; blocks: Block[] } {
  const { now } = model;
  const blocks: Block[] = [
    header('eks-access'),
    {
      type: 'actions',
      block_id: 'home:new',
      elements: [button('Request access', ACTIONS.openRequest, 'new', 'primary')],
    },
    header('Your access'),
  ];
  if (model.live.length === 0) blocks.push(context('No active access.'));
  for (const g of model.live) {
    blocks.push(
      ...grantRow(
        g,
        now,
        g.status === 'active' ? [button('Extend', ACTIONS.extend, g.id), doneButton(g)] : [],
      ),
    );
    const commands = g.status === 'active' ? commandsOf?.(g) : undefined;
    if (commands?.length) blocks.push(section(`*Use it:*\n\`\`\`${commands.join('\n')}\`\`\``));
  }
  blocks.push(header('Your pending requests'));
  if (model.pending.length === 0) blocks.push(context('None.'));
  for (const g of model.pending)
    blocks.push(...grantRow(g, now, [button('Cancel', ACTIONS.cancel, g.id, 'danger')]));
  const extensions = model.extensionsToDecide ?? [];
  if (model.toApprove.length > 0 || extensions.length > 0) {
    blocks.push(header('Waiting for your approval'));
    for (const g of extensions) blocks.push(...extensionRow(g, now));
    for (const g of model.toApprove) {
      blocks.push(
        section(
          `${mention(g.requester.slackUserId)} wants \`${g.level}\` in ${where(g)} for ${formatDuration(g.durationSeconds)}: ${esc(cut(g.reason, 300))}`,
        ),
        ...grantRow(g, now, decideButtons(g, privileged(g.level)), 'decide'),
      );
    }
  }
  if (model.recent.length > 0) {
    blocks.push(header('Recently ended'));
    for (const g of model.recent) blocks.push(section(grantLine(g, now)));
  }
  return { type: 'home', blocks: cappedBlocks(blocks, LIMITS.viewBlocks, LIMITS.viewBytes) };
}

/** `whoami`. */
export function whoamiMessage(
  slackUserId: string,
  principalArn: string | undefined,
  problem: string | undefined,
  choices: string[],
): Message {
  return message('Who you are on eks-access', [
    section(
      `${mention(slackUserId)} is ${principalArn ? `\`${esc(principalArn)}\` on AWS` : `*not mapped to AWS*: ${escHint(problem ?? '')}`}`,
    ),
    section(`*You may request:*\n${choices.map((c) => `• ${c}`).join('\n') || '_nothing_'}`),
  ]);
}

/**
 * The Deny modal, for a request or for an extension of it (both ask the reason the same way);
 * `channel` is where the click happened, for an ephemeral answer.
 */
/**
 * The Deny form. `responseUrl` is the clicked message's response_url (empty from App Home): the outcome
 * is answered there, where the clicker saw the button, even when the bot is not in that channel.
 */
/** The break-glass banner of a message, and its review: the buttons while undone, the verdict after. */
function breakGlassBlocks(grant: Grant): Block[] {
  const use = grant.breakGlass;
  if (!use) return [];
  const via = grant.approvals[0]?.viaGroups?.map((g) => `<!subteam^${g}>`).join(', ');
  const blocks: Block[] = [
    section(
      `:rotating_light: *BREAK-GLASS* — granted at once, without an approver, by rule \`${esc(use.rule)}\` to ${mention(grant.requester.slackUserId)}${via ? ` (member of ${via})` : ''}.\n*Incident:* ${esc(cut(use.incident, 1000))}`,
    ),
  ];
  if (use.review) {
    blocks.push(
      section(
        use.review.verdict === 'acknowledged'
          ? `:white_check_mark: *Reviewed*: acknowledged by ${mention(use.review.by)} ${slackTime(use.review.at)}.`
          : `:triangular_flag_on_post: *Flagged* by ${mention(use.review.by)} ${slackTime(use.review.at)}: ${esc(cut(use.review.why ?? '', 500))}. Access revoked.`,
      ),
    );
    return blocks;
  }
  blocks.push(
    section(
      `:mag: *Needs review* by an approver by ${slackTime(use.reviewDue)}${use.escalatedAt !== undefined ? ' — *overdue, escalated*' : ''}.`,
    ),
    {
      type: 'actions',
      block_id: `review:${grant.id}:${grant.version}`,
      elements: [
        button('Acknowledge', ACTIONS.acknowledgeBreakGlass, grant.id, 'primary'),
        button('Flag', ACTIONS.flagBreakGlass, grant.id, 'danger'),
      ],
    },
  );
  return blocks;
}

/** The DM every approver gets when someone uses break-glass in their namespace. */
export function breakGlassAlertDm(grant: Grant, now: number): Message {
  return message(
    `Break-glass: ${grant.requester.slackUserId} has ${grant.level} in ${grant.namespace} on ${grant.cluster}`,
    [
      section(
        `:rotating_light: ${mention(grant.requester.slackUserId)} used *break-glass* and has \`${grant.level}\` in ${where(grant)} now, for ${formatDuration(grant.durationSeconds)}.\n*Incident:* ${esc(cut(grant.breakGlass?.incident ?? '', 1000))}`,
      ),
      context(
        `Rule \`${esc(grant.breakGlass?.rule ?? '')}\` · review it on the approval message by ${slackTime(grant.breakGlass?.reviewDue ?? now)} (Acknowledge, or Flag to revoke it at once)`,
      ),
    ],
  );
}

/** Re-posted when a break-glass review is overdue: the whole story, with the review buttons. */
export function breakGlassOverdueMessage(policy: Policy, grant: Grant, now: number): Message {
  const original = approvalMessage(policy, grant, now);
  return message(`Overdue review: break-glass ${grant.id} by ${grant.requester.slackUserId}`, [
    section(`:alarm_clock: *Break-glass review overdue* — nobody has reviewed \`${grant.id}\` yet.`),
    ...original.blocks,
  ]);
}

/**
 * The Extend form: the durations the level allows this grant now (extensionChoices), starting on a
 * modest one, so one click never adds hours unasked. The button and the expiry warning open it.
 */
export function extendModal(
  grant: Grant,
  offer: { choices: readonly number[]; byApprovers: boolean },
  responseUrl: string,
  now: number,
): Record<string, unknown> {
  const options = offer.choices.map((s) => ({
    text: plain(`${formatDuration(s)} more`, LIMITS.option),
    value: String(s),
  }));
  const initial = options.find((o) => o.value === String(defaultExtension(offer.choices)));
  return {
    type: 'modal',
    callback_id: EXTEND_MODAL,
    private_metadata: JSON.stringify({ grantId: grant.id, ...(responseUrl ? { responseUrl } : {}) }),
    title: plain('Extend access', LIMITS.modalTitle),
    submit: plain('Extend', LIMITS.button),
    close: plain('Back', LIMITS.button),
    blocks: [
      section(
        `\`${grant.level}\` in ${where(grant)} ends at ${slackTime(grant.expiresAt ?? now)} (${formatDuration(secondsLeft(grant, now))} left). ${offer.byApprovers ? 'The approvers of the namespace decide an extension.' : 'The policy extends it at once.'}`,
      ),
      {
        type: 'input',
        block_id: 'duration',
        label: plain('How much more', 2000),
        element: {
          type: 'static_select',
          action_id: 'value',
          options,
          ...(initial ? { initial_option: initial } : {}),
        },
      },
    ],
  };
}

/** The forms that ask an approver why: denying a request or an extension, flagging, revoking. */
export type ReasonSubject = 'request' | 'extension' | 'flag' | 'revoke';
const REASON_FORMS: Readonly<
  Record<
    ReasonSubject,
    { callbackId: string; title: string; submit: string; question: (id: string) => string }
  >
> = {
  request: {
    callbackId: DENY_MODAL,
    title: 'Deny request',
    submit: 'Deny',
    question: (id) => `Deny \`${id}\`? The requester will see your reason.`,
  },
  flag: {
    callbackId: FLAG_MODAL,
    title: 'Flag break-glass',
    submit: 'Flag and revoke',
    question: (id) =>
      `Flag the break-glass use \`${id}\`? Its access is revoked at once if it is still live; your reason goes to the audit trail.`,
  },
  extension: {
    callbackId: DENY_EXTENSION_MODAL,
    title: 'Deny extension',
    submit: 'Deny',
    question: (id) =>
      `Deny the extension of \`${id}\`? The access keeps its current end; the requester will see your reason.`,
  },
  revoke: {
    callbackId: REVOKE_MODAL,
    title: 'Revoke access',
    submit: 'Revoke',
    question: (id) =>
      `End the access of \`${id}\` now? The person who holds it loses it at once and will see your reason; it goes to the audit trail too.`,
  },
};

export function deniedModal(
  grantId: string,
  responseUrl: string,
  subject: ReasonSubject = 'request',
  asked?: { id?: string; by: string; seconds: number; at: number },
  /** Until `asked` is known: the ask the clicked button named (its id, or when it was asked). */
  clicked?: { id?: string | undefined; at?: number | undefined },
): Record<string, unknown> {
  return {
    type: 'modal',
    callback_id: REASON_FORMS[subject].callbackId,
    // Only what names the ask (not its approvals): private_metadata is limited to 3000 characters.
    private_metadata: JSON.stringify({
      grantId,
      ...(responseUrl ? { responseUrl } : {}),
      ...(clicked?.id ? { clicked: { id: clicked.id } } : clicked?.at ? { clicked: { at: clicked.at } } : {}),
      ...(asked
        ? {
            asked: {
              ...(asked.id ? { id: asked.id } : {}),
              by: asked.by,
              seconds: asked.seconds,
              at: asked.at,
            },
          }
        : {}),
    }),
    title: plain(REASON_FORMS[subject].title, LIMITS.modalTitle),
    submit: plain(REASON_FORMS[subject].submit, LIMITS.button),
    close: plain('Back', LIMITS.button),
    blocks: [
      section(REASON_FORMS[subject].question(grantId)),
      {
        type: 'input',
        block_id: 'reason',
        label: plain('Reason', 2000),
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 },
      },
    ],
  };
}

/**
 * The Approve form where the namespace asks approvers for a reason: the reason (required or optional)
 * and, optionally, a shorter duration (for a window: an earlier end). Never a longer one.
 */
export function approveModal(
  grant: Grant,
  reasonRequired: boolean,
  responseUrl: string,
): Record<string, unknown> {
  const shorter = [
    grant.durationSeconds,
    ...[0.75, 0.5, 0.25].map((f) => Math.round(grant.durationSeconds * f)),
  ].filter((s, i, all) => s >= 60 && all.indexOf(s) === i);
  return {
    type: 'modal',
    callback_id: APPROVE_MODAL,
    private_metadata: JSON.stringify({ grantId: grant.id, ...(responseUrl ? { responseUrl } : {}) }),
    title: plain('Approve request', LIMITS.modalTitle),
    submit: plain('Approve', LIMITS.button),
    close: plain('Back', LIMITS.button),
    blocks: [
      section(
        `Approve \`${grant.level}\` in ${where(grant)} for ${mention(grant.requester.slackUserId)} (${windowWords(grant) ?? formatDuration(grant.durationSeconds)})?`,
      ),
      {
        type: 'input',
        block_id: 'reason',
        optional: !reasonRequired,
        label: plain('Your reason', 2000),
        hint: plain('Recorded in the audit trail with your approval.', 2000),
        element: { type: 'plain_text_input', action_id: 'value', multiline: true, max_length: 500 },
      },
      {
        type: 'input',
        block_id: 'duration',
        optional: true,
        label: plain('Approve for (shorter only)', 2000),
        element: {
          type: 'static_select',
          action_id: 'value',
          options: shorter.map((s) => ({ text: plain(formatDuration(s), 75), value: String(s) })),
          initial_option: {
            text: plain(formatDuration(grant.durationSeconds), 75),
            value: String(grant.durationSeconds),
          },
        },
      },
    ],
  };
}

/** A modal that only says something (a Deny form whose check failed after it opened). */
export function noticeModal(title: string, text: string): Record<string, unknown> {
  return {
    type: 'modal',
    title: plain(title, LIMITS.modalTitle),
    close: plain('Close', LIMITS.button),
    blocks: [section(text)],
  };
}

/** What an admin must do so the bot can post in `channel`, for Slack's error `code`. */
export function channelFix(channel: string, code: string | undefined): string {
  switch (code) {
    case 'not_in_channel':
    case 'channel_not_found':
      return `a Slack admin must run \`/invite @eks-access\` in <#${channel}> (or correct the channel id in the policy)`;
    case 'is_archived':
      return `<#${channel}> is archived: an admin must unarchive it or name another channel in the policy`;
    case 'missing_scope':
      return 'the Slack app lacks a scope: an admin must re-create it from slack-manifest.yml and reinstall it';
    default:
      return 'an admin should run `eks-access doctor`';
  }
}

/**
 * To the requester when their approval request could not be posted: without it nobody is asked, so
 * they learn why, what an admin must do, and where approvers can still find it meanwhile.
 */
export function approvalPostFailedDm(
  all: readonly Grant[],
  channel: string,
  code: string | undefined,
): Message {
  const grant = all[0] as Grant;
  const what =
    all.length === 1
      ? `Your request \`${grant.id}\` for \`${grant.level}\` in ${where(grant)}`
      : `The ${all.length} targets of your request \`${grant.group?.id ?? grant.id}\` approved in this channel (${cut(all.map((g) => `\`${g.id}\` ${where(g)}`).join(', '), 1_500)})`;
  const id = all.length === 1 ? grant.id : (grant.group?.id ?? grant.id);
  return message(`Your request ${id} could not be shown to its approvers`, [
    section(
      `:warning: ${what} could not be posted to <#${channel}>${code ? ` (Slack: \`${code}\`)` : ''}, so ${all.length === 1 ? 'its' : 'their'} approvers were not notified there.`,
    ),
    section(
      `*To fix:* ${channelFix(channel, code)}. Meanwhile approvers find it in \`/eks-access approvals\` and on the eks-access Home tab; tell them.`,
    ),
  ]);
}
