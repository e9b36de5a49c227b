// App Home and the list views: a person's grants and the approvals waiting for them.

import { formatDuration } from '../../../domain/duration.js';
import type { Grant } from '../../../domain/grant.js';
import { secondsLeft } from '../../../domain/grant.js';
import type { HomeModel } from '../../../shared/home.js';
import { extensionButtons } from './approval.js';
import {
  ACTIONS,
  type Block,
  button,
  cappedBlocks,
  context,
  cut,
  decideButtons,
  doneButton,
  esc,
  header,
  type IsPrivileged,
  LIMITS,
  type Message,
  mention,
  message,
  mrkdwn,
  notPrivileged,
  section,
  slackStatusLine,
  slackTime,
  where,
} from './kit.js';

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
