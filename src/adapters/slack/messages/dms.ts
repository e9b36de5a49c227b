// The direct messages to a requester as their grant moves: activated, denied, failed, expiring, ended,
// extended, and the notice when the approval message could not be posted.

import type { ExtensionOutcome } from '../../../bot/request-extension.js';
import type { Policy } from '../../../config/policy.js';
import { formatDuration } from '../../../domain/duration.js';
import type { Grant } from '../../../domain/grant.js';
import { secondsLeft, setupDueAt } from '../../../domain/grant.js';
import { PROBE_SUCCESSES } from '../../../domain/login-probe.js';
import { accessCommands, failureAdvice } from '../../../domain/text.js';
import { windowEnd } from '../../../domain/window.js';
import { approvedBy, extensionDeniedText, grantStatusText, SETUP_SLOW_ADVICE } from './approval.js';
import {
  ACTIONS,
  button,
  context,
  cut,
  doneButton,
  esc,
  type Message,
  mention,
  message,
  section,
  slackTime,
  where,
  windowWords,
} from './kit.js';

// DMs to the requester, one per event that concerns them.

/**
 * `loginProvenMs`: the worker logged in as the person before sending this (the cluster proves logins), and
 * AWS took that long to apply the change — said, so the person knows the commands work now.
 */
export function activatedDm(policy: Policy, grant: Grant, now: number, loginProvenMs?: number): Message {
  const commands = accessCommands(policy, grant);
  return message(
    `Your access to ${grant.namespace} on ${grant.cluster} is ready until ${slackTime(grant.expiresAt ?? now)}`,
    [
      section(
        `:white_check_mark: *Approved* — you have \`${grant.level}\` in ${where(grant)} until *${slackTime(grant.expiresAt ?? now)}* (${formatDuration(secondsLeft(grant, now))}).`,
      ),
      section(`*Use it:*\n\`\`\`${commands.join('\n')}\`\`\``),
      ...(loginProvenMs !== undefined
        ? [
            context(
              `:white_check_mark: Works now: eks-access logged in as you through this role ${PROBE_SUCCESSES} times in a row before sending this (AWS took ${(loginProvenMs / 1000).toFixed(1)} s to apply the change).`,
            ),
          ]
        : []),
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
