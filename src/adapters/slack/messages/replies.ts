// Replies to a slash command: errors, help and whoami.

import type { Policy } from '../../../config/policy.js';
import { type AccessError, headlineOf } from '../../../domain/errors.js';
import { commandHelp } from '../../../domain/text.js';
import { slackDatesIn } from './audit.js';
import { context, cut, esc, escHint, type Message, mention, message, section } from './kit.js';

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
