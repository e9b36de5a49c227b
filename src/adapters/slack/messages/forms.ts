// Modals: the extension form, the reason forms (deny, flag, revoke), the approve form and notices.

import { defaultExtension } from '../../../domain/decisions.js';
import { formatDuration } from '../../../domain/duration.js';
import type { Grant } from '../../../domain/grant.js';
import { secondsLeft } from '../../../domain/grant.js';
import {
  APPROVE_MODAL,
  DENY_EXTENSION_MODAL,
  DENY_MODAL,
  EXTEND_MODAL,
  FLAG_MODAL,
  LIMITS,
  mention,
  plain,
  REVOKE_MODAL,
  section,
  slackTime,
  where,
  windowWords,
} from './kit.js';

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
