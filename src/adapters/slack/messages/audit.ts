// The audit line in the audit channel, and Slack dates in plain text.

import type { Grant } from '../../../domain/grant.js';
import { endedByText } from './approval.js';
import { context, esc, type Message, mention, message, slackStatusLine, slackTime, where } from './kit.js';

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
