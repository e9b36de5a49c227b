// The approval message in the approvers' channel: one grant, or a shared group of requests.

import type { Policy } from '../../../config/policy.js';
import { MANAGED_ACCESS_POLICIES } from '../../../domain/access-policies.js';
import { namespacePolicyOf } from '../../../domain/decisions.js';
import { formatDuration, parseDuration } from '../../../domain/duration.js';
import type { Grant } from '../../../domain/grant.js';
import { secondsLeft, setupDueAt, setupOverdue } from '../../../domain/grant.js';
import { type AccessPlan, planGrant } from '../../../domain/plan.js';
import {
  ACTIONS,
  type Block,
  button,
  context,
  cut,
  decideButtons,
  divider,
  esc,
  field,
  header,
  heldText,
  LIMITS,
  linkedReason,
  type Message,
  mention,
  message,
  revokeButton,
  section,
  slackStatusLine,
  slackTime,
  where,
  windowWords,
} from './kit.js';

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
  if (plan.roleBinding) {
    const ref = plan.roleBinding.roleRef;
    lines.push(
      `• RoleBinding \`${plan.roleBinding.metadata.name}\` → ${ref.kind} \`${ref.name}\` for \`${esc(plan.username)}\``,
    );
  }
  if (plan.accessPolicy) {
    // No object in the cluster: EKS applies the policy to the entry, for these namespaces only.
    lines.push(
      `• EKS access policy \`${plan.accessPolicy.name}\` (${MANAGED_ACCESS_POLICIES[plan.accessPolicy.name].summary}) associated with the entry, scoped to namespace \`${plan.namespace}\` only; nothing is written into the cluster`,
    );
  }
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
export function approvedBy(grant: Grant): string {
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

export const endedByText = (actor: string) =>
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
  if (grant.origin === 'terminal') {
    blocks.push(context(':computer: Requested from the terminal (`kubectl eks-access`), signed in with AWS'));
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
export function shared<T>(grants: readonly Grant[], pick: (g: Grant) => T): T | undefined {
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
 * Who approves a namespace, as mentions that notify them: `<@U…>` for people, `<!subteam^S…>` for
 * user groups.
 */
export const approverMentions = (approvers: {
  users: readonly string[];
  groups: readonly string[];
}): string =>
  [...approvers.groups.map((g) => `<!subteam^${g}>`), ...approvers.users.map((u) => `<@${u}>`)].join(' ');

export const extensionDeniedText = (d: NonNullable<Grant['extensionDenial']>) =>
  `:no_entry_sign: An extension of ${formatDuration(d.seconds)} was *denied* by ${mention(d.by)}${d.reason ? `: ${esc(cut(d.reason, 500))}` : ''}`;

/**
 * Approve/Deny for the extension waiting now, bound to that ask (`<grant id>/<extension id>`, or when it
 * was asked for records without ids): a click on an older ask's button is refused, never applied to a
 * newer amount.
 */
export function extensionButtons(grant: Grant): Block[] {
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
