// Break-glass: the alert to the reviewers and the overdue-review message.

import type { Policy } from '../../../config/policy.js';
import { formatDuration } from '../../../domain/duration.js';
import type { Grant } from '../../../domain/grant.js';
import { approvalMessage } from './approval.js';
import { context, cut, esc, type Message, mention, message, section, slackTime, where } from './kit.js';

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
