// Chat-agnostic words about grants: the commands a person runs, one-line status, the help text.
// Slack (or a CLI, or another chat) decorates these; nothing here knows about Block Kit or mentions.
import type { Policy } from '../config/policy.js';
import { identityCenterSessionOf, partitionOfRegion } from './arn.js';
import type { ApprovalNeed } from './decisions.js';
import { formatDuration } from './duration.js';
import type { Grant, GrantStatus } from './grant.js';
import { secondsLeft } from './grant.js';
import { personalRoleArn } from './names.js';
import { permissionChecks } from './plan.js';

/** `2026-05-01 14:30 UTC`: unambiguous for people in any time zone. */
export function humanTime(epochMs: number): string {
  return `${new Date(epochMs).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export const kubeContextAlias = (grant: Pick<Grant, 'cluster' | 'namespace'>): string =>
  `eks-access-${grant.cluster}-${grant.namespace}`;

/** The exact shell commands that put a granted person to work, and one that proves it worked. */
export function accessCommands(policy: Policy, grant: Grant): string[] {
  const cluster = policy.clusters[grant.cluster];
  const level = policy.levels[grant.level];
  if (!cluster || !level) return [];
  const check = permissionChecks(grant.namespace, level, 1)[0];
  const canI = check
    ? `kubectl auth can-i ${check.verb} ${check.resource}${check.subresource ? `/${check.subresource}` : ''}${check.group ? `.${check.group}` : ''} -n ${grant.namespace}`
    : `kubectl auth can-i get pods -n ${grant.namespace}`;
  const alias = kubeContextAlias(grant);
  const kubeconfig = kubeconfigUpdate(policy, grant);
  if (!kubeconfig) {
    return [`kubectl config use-context <your context for ${grant.cluster}>`, canI];
  }
  const { name: eksName, region, roleArn, profile } = kubeconfig;
  const update = `aws eks update-kubeconfig --name ${eksName} --region ${region} --role-arn ${roleArn} --alias ${alias}`;
  if (profile) {
    // Identity Center people have no keys: their CLI profile signs them in, and the kubeconfig keeps
    // the profile, so every kubectl call gets a fresh token from the SSO session.
    return [
      `aws sso login --profile ${profile}`,
      `${update} --profile ${profile}`,
      `${canI} --context ${alias}`,
    ];
  }
  return [update, `${canI} --context ${alias}`];
}

/**
 * The arguments of the `aws eks update-kubeconfig` that puts a person to work: as data, so a client
 * (`kubectl eks-access`) runs the aws CLI with them as separate arguments, never through a shell.
 * Undefined for an identityMapping `none` cluster (people use the context they have).
 */
export function kubeconfigUpdate(
  policy: Policy,
  grant: Grant,
): { name: string; region: string; roleArn: string; alias: string; profile?: string } | undefined {
  const cluster = policy.clusters[grant.cluster];
  if (!cluster || cluster.identityMapping === 'none') return undefined;
  const name = 'eks' in cluster.connection ? (cluster.connection.eks.name ?? grant.cluster) : grant.cluster;
  const roleArn = personalRoleArn(
    cluster.accountId,
    policy.settings.iamPath,
    grant.cluster,
    grant.requester.principalArn,
    partitionOfRegion(cluster.region),
  );
  const profile = identityCenterProfile(policy, grant.requester.principalArn);
  return {
    name,
    region: cluster.region,
    roleArn,
    alias: kubeContextAlias(grant),
    ...(profile ? { profile } : {}),
  };
}

/**
 * The AWS CLI profile an Identity Center person signs in with for this principal's account and
 * permission set (identities.identityCenter.cliProfile); undefined for everyone else.
 */
export function identityCenterProfile(policy: Policy, principalArn: string): string | undefined {
  const settings = policy.identities.identityCenter;
  const session = identityCenterSessionOf(principalArn);
  if (!settings?.enabled || !session) return undefined;
  return settings.cliProfile
    .replaceAll('{permissionSet}', session.permissionSet)
    .replaceAll('{account}', session.account);
}

const STATUS_WORDS: Readonly<Record<GrantStatus, string>> = {
  pending: 'Waiting for approval',
  approved: 'Approved, being set up',
  active: 'Active',
  revoking: 'Ending',
  expired: 'Expired',
  revoked: 'Revoked',
  relinquished: 'Given back',
  denied: 'Denied',
  cancelled: 'Cancelled',
  failed: 'Failed',
};

/**
 * How a chat shows the parts of a status line: `time` formats a moment (Slack: a date each reader sees
 * in their own zone), `text` escapes what people typed (reasons). Plain UTC text and no escaping by
 * default (the CLI).
 */
export interface LineFormat {
  time?: (epochMs: number) => string;
  text?: (typed: string) => string;
}

/** One line saying where a grant is in its life, with the time that matters at that stage. */
export function statusLine(grant: Grant, now: number, format: LineFormat = {}): string {
  const time = format.time ?? humanTime;
  const typed = format.text ?? ((t: string) => t);
  const words = STATUS_WORDS[grant.status];
  switch (grant.status) {
    case 'pending':
      return `${words}: ${grant.approvals.length} of ${grant.requiredApprovals}; lapses ${time(grant.pendingUntil)}${grant.startsAt === undefined ? '' : `; window opens ${time(grant.startsAt)}`}`;
    case 'approved':
      return grant.startsAt !== undefined && grant.startsAt > now
        ? `Approved; opens ${time(grant.startsAt)}, for ${formatDuration(grant.durationSeconds)}`
        : words;
    case 'active':
      return grant.expiresAt === undefined
        ? words
        : `${words} until ${time(grant.expiresAt)} (${formatDuration(secondsLeft(grant, now))} left)`;
    case 'denied':
      return `${words}: ${typed(grant.denial?.reason ?? '')}`.trim();
    case 'failed':
      return `${words}: ${typed(grant.failure?.reason ?? 'unknown reason')}`;
    case 'cancelled':
      return grant.endedBy === 'system' ? `${words}: nobody decided in time` : words;
    case 'expired':
    case 'revoked':
    case 'relinquished':
      return grant.endedAt === undefined ? words : `${words} at ${time(grant.endedAt)}`;
    default:
      return words;
  }
}

/** What the person does when activation failed: the id lets the platform team find the trail. */
export const failureAdvice = (grant: Pick<Grant, 'id'>): string =>
  `Nothing was left behind. Try again with a new request, or ask the platform team to look at ${grant.id} (\`eks-access audit ${grant.id}\`).`;

/** The words a help example uses: the running policy's own names, or neutral ones without a policy. */
interface HelpNames {
  namespace: string;
  /** `on <cluster>` where the namespace needs one (it is on several clusters), else empty. */
  on: string;
  cluster: string;
  level: string;
  duration: string;
  ticket: string;
  /** Several targets one request can name: `test on dev,staging`, or `a,b on dev`. */
  several: string;
  breakGlass: string;
}

const NEUTRAL_NAMES: HelpNames = {
  namespace: 'test',
  on: '',
  cluster: 'prod',
  level: 'view',
  duration: '2h',
  ticket: 'INC-123',
  several: 'test on dev,staging',
  breakGlass: 'payments for 1h',
};

/** Help examples in the policy's own names, so every example works as typed on this installation. */
function helpNames(policy: Policy | undefined): HelpNames {
  if (!policy) return NEUTRAL_NAMES;
  const clusters = Object.entries(policy.clusters);
  const firstCluster = clusters[0];
  const firstNs = firstCluster?.[1].namespaces.find((n) => !n.name.includes('*'));
  if (!firstCluster || !firstNs) return NEUTRAL_NAMES;
  const namespace = firstNs.name;
  const onClusters = clusters.filter(([, c]) => c.namespaces.some((n) => n.name === namespace));
  const level = firstNs.levels[0] ?? NEUTRAL_NAMES.level;
  const duration = policy.levels[level]?.defaultDuration ?? NEUTRAL_NAMES.duration;
  const otherNs = firstCluster[1].namespaces.find((n) => n.name !== namespace && !n.name.includes('*'));
  const several =
    onClusters.length > 1
      ? `${namespace} on ${onClusters.map(([name]) => name).join(',')}`
      : otherNs
        ? `${namespace},${otherNs.name} on ${firstCluster[0]}`
        : `${namespace} on all`;
  const rule = policy.breakGlass[0];
  const glassNs = rule?.namespaces.find((n) => !n.includes('*'));
  return {
    namespace,
    on: onClusters.length > 1 ? ` on ${firstCluster[0]}` : '',
    cluster: firstCluster[0],
    level,
    duration,
    ticket: Object.values(policy.tickets)[0]?.example ?? NEUTRAL_NAMES.ticket,
    several,
    breakGlass:
      rule && glassNs
        ? `${glassNs} as ${rule.levels[0] ?? level} for ${rule.maxDuration}`
        : `${namespace} for 1h`,
  };
}

/** Every subcommand with its usage, an example in the running policy's own names, and what it does. */
export function commandHelp(policy?: Policy): readonly { usage: string; example: string; says: string }[] {
  const n = helpNames(policy);
  return [
    {
      usage: 'request <namespace> [on <cluster>] [as <level>] [for <duration>] [because <reason…>]',
      example: `request ${n.namespace}${n.on} for ${n.duration} because ${n.ticket} checkout errors`,
      says: 'Ask for access. Without a namespace it opens a form.',
    },
    {
      usage: 'request <namespace> … from <start> for <duration> because <reason…>',
      example: `request ${n.namespace} on ${n.cluster} from 22:00 for ${n.duration} because ${n.ticket}`,
      says: 'A window later on (your time zone): approved beforehand, open only from its start to its end.',
    },
    { usage: 'list', example: 'list', says: 'Your requests and grants.' },
    { usage: 'approvals', example: 'approvals', says: 'Requests waiting for your approval.' },
    {
      usage: 'approve <id> [for <shorter duration>] [because <reason…>]',
      example: 'approve ea-7k2m9xab for 1h because fine for the migration',
      says: 'Approvers: approve, optionally shorter (never longer) and with your reason.',
    },
    {
      usage: 'extend <id> [for <duration>]',
      example: 'extend ea-7k2m9xab for 1h',
      says: 'Ask for more time.',
    },
    {
      usage: 'request <namespace>[,<namespace>…] on <cluster>,<cluster>… | on all …',
      example: `request ${n.several} for ${n.duration} because ${n.ticket}`,
      says: 'Several targets at once: each approved by its own approvers, each its own grant.',
    },
    { usage: 'done <id>', example: 'done ea-7k2m9xab', says: 'Give access back now.' },
    { usage: 'done all', example: 'done all', says: 'Give back everything you have (every target).' },
    {
      usage: 'breakglass <namespace> [on <cluster>] [as <level>] [for <duration>] because <incident…>',
      example: `breakglass ${n.breakGlass} because INC-77 database down`,
      says: 'On call, when a policy rule allows it: access at once, announced to every approver, reviewed afterwards.',
    },
    { usage: 'cancel <id>', example: 'cancel ea-7k2m9xab', says: 'Withdraw a request still waiting.' },
    {
      usage: 'revoke <id> [because <reason…>]',
      example: 'revoke ea-7k2m9xab because INC-123 is closed',
      says: "Approvers: end someone's access now; they see your reason.",
    },
    { usage: 'whoami', example: 'whoami', says: 'Who you are on AWS and what you may request.' },
    { usage: 'help', example: 'help', says: 'This text.' },
  ];
}

/** The help without a policy's names (docs, tests). */
export const COMMAND_HELP = commandHelp();

/** `1 approval`, `2 approvals`. */
export const approvalCount = (n: number): string => `${n} approval${n === 1 ? '' : 's'}`;

/**
 * How many approvals a request needs and why, in the words the form, the command's reply and the
 * approval message share: `2 approvals (k8s-test-role is a privileged level)`, or the rule that
 * approves it at once.
 */
export function approvalNeedText(need: ApprovalNeed, level: string): string {
  switch (need.why) {
    case 'auto-approve':
      return `none: the policy approves it at once (auto-approve rule ${need.auto?.actor ?? ''}, ${level} for up to ${need.auto?.rule.maxDuration ?? '?'})`;
    case 'privileged':
      return `${approvalCount(need.count)} (${level} is a privileged level)`;
    case 'level':
      return `${approvalCount(need.count)} (level ${level} asks for ${need.count})`;
    case 'namespace':
      return approvalCount(need.count);
  }
}
