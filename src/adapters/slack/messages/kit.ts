// What every Slack message is built from: Slack's limits, escaping (`esc`: a reason cannot `<!channel>`)
// and cutting (`cut`: Slack never rejects a message for size), mentions, dates, buttons and the action ids.

import type { ApprovalNeed } from '../../../domain/decisions.js';
import { formatDuration } from '../../../domain/duration.js';
import type { Grant, HeldAccess } from '../../../domain/grant.js';
import { isRobotRequester, roleOfRobot } from '../../../domain/robots.js';
import { approvalNeedText, humanTime, statusLine } from '../../../domain/text.js';
import { splitByReferences, type TicketSystem } from '../../../domain/tickets.js';
import { windowEnd } from '../../../domain/window.js';

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
export const escHint = (text: string): string =>
  esc(text).replace(/&lt;(@[UW][A-Z0-9]+|!subteam\^S[A-Z0-9]+)&gt;/g, '<$1>');

/** A person, or the auto-approve rule by the same name the audit stream uses (`auto:<namespace>#<index>`). */
export const mention = (id: string): string =>
  id.startsWith('auto:')
    ? `the auto-approve rule \`${esc(id)}\``
    : isRobotRequester(id)
      ? `the IAM role \`${esc(roleOfRobot(id) ?? id)}\``
      : `<@${id}>`;

// verbatim: Slack must not turn text people typed (URLs, #channel names) into links or mentions; the
// mentions we write ourselves (<@U…>, <#C…>) are explicit and still render.
export const mrkdwn = (text: string, max: number = LIMITS.text) => ({
  type: 'mrkdwn',
  text: cut(text, max),
  verbatim: true,
});
/** A section field: Slack allows 2000 characters there, not a section's 3000. */
export const field = (text: string) => mrkdwn(text, LIMITS.field);
export const plain = (text: string, max: number = LIMITS.text) => ({
  type: 'plain_text',
  text: cut(text, max),
  emoji: true,
});
export const section = (text: string): Block => ({ type: 'section', text: mrkdwn(text) });
export const context = (text: string): Block => ({ type: 'context', elements: [mrkdwn(text)] });
export const header = (text: string): Block => ({ type: 'header', text: plain(text, LIMITS.header) });
export const divider: Block = { type: 'divider' };

export function button(
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
export const doneButton = (grant: Pick<Grant, 'id' | 'namespace' | 'cluster'>): Block =>
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
export function decideButtons(
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
export const revokeButton = (grant: Pick<Grant, 'id' | 'namespace' | 'cluster' | 'requester'>): Block =>
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
export const notPrivileged: IsPrivileged = () => false;

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
export function cappedBlocks(blocks: Block[], max: number, maxBytes = Number.POSITIVE_INFINITY): Block[] {
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

export const message = (text: string, blocks: Block[]): Message => ({
  text: cut(text, LIMITS.fallbackText),
  blocks: cappedBlocks(blocks, LIMITS.messageBlocks),
});

export const where = (g: Pick<Grant, 'namespace' | 'cluster'>) => `\`${g.namespace}\` on \`${g.cluster}\``;

/**
 * A time each reader sees in their own time zone (Slack's date formatting), with the UTC text as the
 * fallback for clients that cannot format it.
 */
export const slackTime = (epochMs: number): string =>
  `<!date^${Math.floor(epochMs / 1000)}^{date_short_pretty} {time}|${humanTime(epochMs)}>`;

/** The status line with times as Slack dates and typed reasons escaped. */
export const slackStatusLine = (grant: Grant, now: number) =>
  statusLine(grant, now, { time: slackTime, text: esc });
