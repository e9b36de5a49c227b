// The approval message's thread: notes as the grant moves, and the reminders that point approvers at the
// message.

import { formatDuration } from '../../../domain/duration.js';
import type { Grant } from '../../../domain/grant.js';
import type { GrantEvent } from '../../../ports/notifier.js';
import { grantStatusText, SETUP_SLOW_ADVICE } from './approval.js';
import { context, cut, esc, type Message, mention, message, section, slackTime, where } from './kit.js';

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
