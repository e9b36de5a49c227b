// Policy decisions as pure functions of trusted data: the policy, the stored grant, and the Slack
// user id from a signed payload. Nothing here trusts button values or message text.
import type {
  AutoApproveRule,
  BreakGlassRule,
  ClusterPolicy,
  LevelPolicy,
  NamespacePolicy,
  Policy,
} from '../config/policy.js';
import { DNS1123_LABEL, isAcceptedIdentityCenterSession, requiredApprovalsFor } from '../config/policy.js';
import { formatDuration, parseDuration } from './duration.js';
import { type AccessError, badInput, conflict, forbidden, notFound } from './errors.js';
import type { Approval, ClaimedExtension, Grant, HeldAccess } from './grant.js';
import { committedSeconds } from './grant.js';
import { principalParts, renderUsername } from './names.js';
import { humanTime } from './text.js';
import { type TicketRequirement, ticketReferences, unmetTicketRequirement } from './tickets.js';
import { parseStart, START_EXAMPLES } from './window.js';

export const MAX_REASON_LENGTH = 500;

export interface RequestInput {
  namespace: string;
  cluster?: string | undefined;
  level?: string | undefined;
  duration?: string | undefined;
  reason?: string | undefined;
  /** A scheduled window's start as typed (`22:00`, `tomorrow 9:00`, `+2h`); absent for now. */
  start?: string | undefined;
  /** The requester's IANA time zone, in which `start` is read (UTC when unknown). */
  timeZone?: string | undefined;
}

export interface ResolvedRequest {
  cluster: string;
  namespace: string;
  level: string;
  durationSeconds: number;
  /** A scheduled window's start (epoch ms); undefined for access now. */
  startsAt: number | undefined;
  reason: string;
  /** Ticket references the reason names (every declared system), in order. */
  tickets: string[];
  namespacePolicy: NamespacePolicy;
  levelPolicy: LevelPolicy;
  requiredApprovals: number;
}

/** The ticket requirements that apply to a request for this level in this namespace. */
export function ticketRequirementsFor(
  cluster: string,
  namespacePolicy: Pick<NamespacePolicy, 'name' | 'requireTicket'>,
  levelName: string,
  levelPolicy: Pick<LevelPolicy, 'requireTicket'>,
): TicketRequirement[] {
  const requirements: TicketRequirement[] = [];
  const ns = namespacePolicy.requireTicket;
  if (ns && (!ns.levels || ns.levels.includes(levelName))) {
    requirements.push({ systems: ns.systems, source: `${namespacePolicy.name} on ${cluster}` });
  }
  if (levelPolicy.requireTicket) {
    requirements.push({ systems: levelPolicy.requireTicket, source: `level ${levelName}` });
  }
  return requirements;
}

/** `team-*` matches `team-a`; exact names match themselves. */
export function namespaceMatches(pattern: string, namespace: string): boolean {
  if (!pattern.includes('*')) return pattern === namespace;
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('[a-z0-9-]*')}$`);
  return regex.test(namespace);
}
const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function namespacePolicyFor(cluster: ClusterPolicy, namespace: string): NamespacePolicy | undefined {
  // Exact names win over patterns, so a specific entry can tighten a broad one.
  return (
    cluster.namespaces.find((ns) => ns.name === namespace) ??
    cluster.namespaces.find((ns) => namespaceMatches(ns.name, namespace))
  );
}

/** The policy entry of the namespace a grant (or request) is in, if the policy still offers it. */
export function namespacePolicyOf(
  policy: Policy,
  where: { cluster: string; namespace: string },
): NamespacePolicy | undefined {
  const cluster = policy.clusters[where.cluster];
  return cluster ? namespacePolicyFor(cluster, where.namespace) : undefined;
}

/** Clusters (by name) that offer this namespace. */
export function clustersOffering(policy: Policy, namespace: string): string[] {
  return Object.entries(policy.clusters)
    .filter(([, c]) => namespacePolicyFor(c, namespace))
    .map(([name]) => name);
}

export function requestableNamespaces(policy: Policy): { cluster: string; namespace: string }[] {
  return Object.entries(policy.clusters).flatMap(([cluster, c]) =>
    c.namespaces.map((ns) => ({ cluster, namespace: ns.name })),
  );
}

/** Clusters offering the namespace; refuses (listing what can be requested) when none does. */
function clustersOfferingOrRefuse(policy: Policy, namespace: string): string[] {
  const offering = clustersOffering(policy, namespace);
  if (offering.length === 0) {
    throw notFound(
      `Namespace "${namespace}" cannot be requested`,
      requestableHint(policy),
      field('namespace'),
    );
  }
  return offering;
}

/** How a break-glass rule appears as the approver of what it granted (`breakglass:<rule name>`). */
export const BREAK_GLASS_ACTOR = 'breakglass:';
export const breakGlassActor = (rule: Pick<BreakGlassRule, 'name'>): string =>
  `${BREAK_GLASS_ACTOR}${rule.name}`;

/**
 * The break-glass rule that lets a member of `memberOfGroups` have this level here for this long, if any.
 * The namespace must also be one the policy offers on the cluster (resolveRequest checks that).
 */
export function breakGlassRuleFor(
  policy: Policy,
  request: {
    cluster: string;
    namespace: string;
    level: string;
    durationSeconds: number;
    memberOfGroups: readonly string[];
  },
): BreakGlassRule | undefined {
  return policy.breakGlass.find(
    (rule) =>
      (!rule.clusters || rule.clusters.includes(request.cluster)) &&
      rule.namespaces.some((pattern) => namespaceMatches(pattern, request.namespace)) &&
      rule.levels.includes(request.level) &&
      request.durationSeconds <= (parseDuration(rule.maxDuration) ?? 0) &&
      rule.groups.some((g) => request.memberOfGroups.includes(g)),
  );
}

/** The most targets one request may name: more is a different conversation with the platform team. */
export const MAX_TARGETS = 10;

/**
 * The targets a request names: `request a,b on dev,staging` is every namespace on every cluster,
 * `on all` every cluster whose policy offers the namespace. Without a cluster each namespace finds its
 * own (resolveRequest). Nothing is checked here beyond what expansion needs; each target is then
 * resolved on its own.
 */
export function expandTargets(
  policy: Policy,
  input: Pick<RequestInput, 'namespace' | 'cluster'>,
): { namespace: string; cluster: string | undefined }[] {
  const list = (text: string) => [
    ...new Set(
      text
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean),
    ),
  ];
  const namespaces = list(input.namespace);
  if (namespaces.length === 0) {
    throw badInput(
      'Name a namespace',
      'For example: `request test on dev,staging for 1h because …`.',
      field('namespace'),
    );
  }
  const clusterText = input.cluster?.trim();
  const targets: { namespace: string; cluster: string | undefined }[] = [];
  for (const namespace of namespaces) {
    if (!clusterText) {
      targets.push({ namespace, cluster: undefined });
      continue;
    }
    if (clusterText.toLowerCase() === 'all') {
      const offering = clustersOfferingOrRefuse(policy, namespace);
      for (const cluster of offering) targets.push({ namespace, cluster });
      continue;
    }
    for (const cluster of list(clusterText)) targets.push({ namespace, cluster });
  }
  if (targets.length > MAX_TARGETS) {
    throw badInput(
      `That is ${targets.length} targets; one request may name at most ${MAX_TARGETS}`,
      'Split it into several requests.',
      field('cluster'),
    );
  }
  return targets;
}

/** Which part of a request an error is about: a form shows the error next to that field. */
export type RequestField = 'namespace' | 'cluster' | 'level' | 'duration' | 'reason' | 'start';
const field = (name: RequestField) => ({ field: name });

/** The field a resolveRequest error names in its details, if any. */
export function requestFieldOf(details: Readonly<Record<string, unknown>>): RequestField | undefined {
  const named = details['field'];
  return named === 'namespace' ||
    named === 'cluster' ||
    named === 'level' ||
    named === 'duration' ||
    named === 'reason' ||
    named === 'start'
    ? named
    : undefined;
}

/**
 * Validates a request against the policy; throws bad_input / not_found naming the valid choices. `now`
 * is needed only to read a window's start (`input.start`).
 */
export function resolveRequest(policy: Policy, input: RequestInput, now?: number): ResolvedRequest {
  const namespace = input.namespace.trim();
  if (!DNS1123_LABEL.test(namespace) || namespace.length > 63) {
    throw badInput(
      `"${namespace}" is not a valid namespace name`,
      'Namespace names are lower-case letters, digits and "-", at most 63 characters.',
      field('namespace'),
    );
  }
  let clusterName = input.cluster?.trim();
  if (clusterName) {
    if (!policy.clusters[clusterName]) {
      throw notFound(
        `There is no cluster "${clusterName}"`,
        `Clusters: ${Object.keys(policy.clusters).join(', ')}.`,
        field('cluster'),
      );
    }
  } else {
    const offering = clustersOfferingOrRefuse(policy, namespace);
    if (offering.length > 1) {
      throw badInput(
        `Namespace "${namespace}" exists on several clusters: ${offering.join(', ')}`,
        `Say which: for example \`request ${namespace} on ${offering[0]}\`.`,
        field('cluster'),
      );
    }
    clusterName = offering[0] as string;
  }
  const cluster = policy.clusters[clusterName] as ClusterPolicy;
  const namespacePolicy = namespacePolicyFor(cluster, namespace);
  if (!namespacePolicy) {
    throw notFound(
      `Namespace "${namespace}" cannot be requested on ${clusterName}`,
      requestableHint(policy),
      field('namespace'),
    );
  }
  const levelName = input.level?.trim() || namespacePolicy.levels[0];
  if (!levelName || !namespacePolicy.levels.includes(levelName)) {
    throw notFound(
      `Access level "${input.level}" is not offered in ${namespace} on ${clusterName}`,
      `Levels here: ${namespacePolicy.levels.join(', ')}.`,
      field('level'),
    );
  }
  const levelPolicy = policy.levels[levelName] as LevelPolicy;
  const maxSeconds = parseDuration(levelPolicy.maxDuration) ?? 0;
  let durationSeconds = parseDuration(levelPolicy.defaultDuration) ?? 0;
  if (input.duration !== undefined && input.duration.trim() !== '') {
    const parsed = parseDuration(input.duration);
    if (parsed === undefined || parsed <= 0) {
      throw badInput(
        `"${input.duration}" is not a duration`,
        `Write it like 30m, 2h or 1h30m; the maximum for ${levelName} is ${levelPolicy.maxDuration}.`,
        field('duration'),
      );
    }
    durationSeconds = parsed;
  }
  if (durationSeconds > maxSeconds) {
    // In the words the person typed (`1000h`, not `41d16h`), next to what the level allows.
    const asked = input.duration?.trim() || formatDuration(durationSeconds);
    throw badInput(
      `You asked for ${asked}; ${levelName} allows at most ${levelPolicy.maxDuration}`,
      `Ask for ${levelPolicy.maxDuration} or less; more time can be asked with \`extend\` later.`,
      field('duration'),
    );
  }
  const reason = (input.reason ?? '').trim();
  const reasonRequired = namespacePolicy.requireReason ?? policy.settings.requireReason;
  if (reasonRequired && reason === '') {
    throw badInput(
      'A reason is required for this namespace',
      'Add one: `... because INC-123 checkout errors`.',
      field('reason'),
    );
  }
  if (reason.length > MAX_REASON_LENGTH) {
    throw badInput(
      `The reason is ${reason.length} characters long`,
      `Keep it under ${MAX_REASON_LENGTH} characters.`,
      field('reason'),
    );
  }
  const ticketRequirements = ticketRequirementsFor(clusterName, namespacePolicy, levelName, levelPolicy);
  const unmet = unmetTicketRequirement(reason, ticketRequirements, policy.tickets);
  if (unmet) {
    const examples = unmet.systems.map((name) => {
      const system = policy.tickets[name];
      return system ? `${system.example} (${name}: \`${system.pattern}\`)` : name;
    });
    throw badInput(
      `Access to ${unmet.source} needs a ticket reference in the reason`,
      `Name ${examples.length > 1 ? 'one of ' : ''}${examples.join(', or ')}. For example: \`request ${namespace}${input.cluster ? ` on ${clusterName}` : ''} as ${levelName} because ${policy.tickets[unmet.systems[0] as string]?.example ?? 'TICKET-1'} what you will do\`.`,
      { ...field('reason'), ticketSystems: unmet.systems.join(',') },
    );
  }
  return {
    cluster: clusterName,
    namespace,
    level: levelName,
    durationSeconds,
    startsAt: windowStart(policy, input, now),
    reason,
    tickets: ticketReferences(reason, policy.tickets).map((t) => t.ref),
    namespacePolicy,
    levelPolicy,
    requiredApprovals: approvalNeed(policy, {
      cluster: clusterName,
      namespace,
      level: levelName,
      durationSeconds,
    }).approvers,
  };
}

/** The start of the window a request asks for, checked against the policy's limits; undefined for now. */
function windowStart(policy: Policy, input: RequestInput, now: number | undefined): number | undefined {
  const text = input.start?.trim();
  if (!text) return undefined;
  if (now === undefined) throw new Error('resolveRequest needs the time to read a start');
  const startsAt = parseStart(text, now, input.timeZone);
  if (startsAt < now) {
    throw badInput(
      `${humanTime(startsAt)} is in the past`,
      `Leave \`from …\` out for access now, or write ${START_EXAMPLES}.`,
      field('start'),
    );
  }
  const maxAhead = parseDuration(policy.settings.windows.maxAhead) ?? 0;
  if (startsAt > now + maxAhead * 1000) {
    throw badInput(
      `${humanTime(startsAt)} is more than ${policy.settings.windows.maxAhead} ahead`,
      `Windows may start at most ${policy.settings.windows.maxAhead} from now; ask closer to the time.`,
      field('start'),
    );
  }
  return startsAt;
}

/**
 * How many approvers a request (and each of its extensions) at this level in this namespace needs:
 * the one rule lives with the policy schema, whose validator checks a namespace can meet it.
 */
export { requiredApprovalsFor };

/**
 * How many approvals a request needs, and why. The one answer the request form, the command's reply,
 * the approval message and the worker's re-check share (the form once computed its own and was wrong).
 */
export interface ApprovalNeed {
  /** Distinct people who must approve now: 0 when an auto-approve rule covers the request. */
  count: number;
  /** What approvers would need without a rule: the count a grant records (and seals) as requiredApprovals. */
  approvers: number;
  /**
   * Why: the namespace's `approvals`, the level's own `approvals`, the privileged minimum, or an
   * auto-approve rule that approves it at once.
   */
  why: 'namespace' | 'level' | 'privileged' | 'auto-approve';
  privileged: boolean;
  /** The rule that approves it at once, under the name the audit stream uses (`auto:<namespace>#<index>`). */
  auto?: { rule: AutoApproveRule; index: number; actor: string };
}

/**
 * The approvals a request at `level` in `namespace` for `durationSeconds` needs. With `requester`, an
 * auto-approve rule that covers this person counts (0 approvals); without, only the policy's count.
 * Break-glass is not a request: its rule approves at once by its own command (break-glass.ts).
 */
export function approvalNeed(
  policy: Policy,
  request: { cluster: string; namespace: string; level: string; durationSeconds: number },
  requester?: { slackUserId: string; memberOfGroups: readonly string[] },
): ApprovalNeed {
  const ns = namespacePolicyOf(policy, request);
  const level = policy.levels[request.level];
  if (!ns || !level || !ns.levels.includes(request.level)) {
    throw notFound(
      `${request.level} in ${request.namespace} on ${request.cluster} is not in the policy`,
      requestableHint(policy),
    );
  }
  const approvers = requiredApprovalsFor(level, ns);
  const why = level.approvals !== undefined ? 'level' : approvers > ns.approvals ? 'privileged' : 'namespace';
  const auto = requester ? autoApproveRuleFor(ns, { ...request, ...requester }) : undefined;
  if (auto) {
    return {
      count: 0,
      approvers,
      why: 'auto-approve',
      privileged: level.privileged,
      auto: { ...auto, actor: `auto:${request.namespace}#${auto.index}` },
    };
  }
  return { count: approvers, approvers, why, privileged: level.privileged };
}

/** The one quorum rule: requests and extensions are decided when this many distinct people approved. */
export const quorumReached = (approvals: readonly Approval[], required: number): boolean =>
  new Set(approvals.map((a) => a.slackUserId)).size >= required;

/**
 * Approvals an extension of this grant needs: what the request needed, or more if the policy has
 * since become stricter (never fewer: an extension is no cheaper than the access it prolongs).
 */
export function extensionApprovalsRequired(policy: Policy, grant: Grant): number {
  const ns = namespacePolicyOf(policy, grant);
  const offered = ns?.levels.includes(grant.level) && policy.levels[grant.level];
  const now = offered ? approvalNeed(policy, grant).approvers : 1;
  return Math.max(grant.requiredApprovals, now);
}

function requestableHint(policy: Policy): string {
  const list = requestableNamespaces(policy)
    .map(({ cluster, namespace }) => `${namespace} (${cluster})`)
    .join(', ');
  return `You can request: ${list}.`;
}

/** Slack user groups are resolved by the caller (usergroups.users.list) and passed in as ids. */
export interface ApproverContext {
  slackUserId: string;
  /** Ids of the namespace's approver groups this user belongs to. */
  memberOfGroups: readonly string[];
}

export function isApprover(ns: NamespacePolicy, who: ApproverContext): boolean {
  return (
    ns.approvers.users.includes(who.slackUserId) ||
    ns.approvers.groups.some((g) => who.memberOfGroups.includes(g))
  );
}

/**
 * May this person approve (or deny) this grant now? Throws forbidden with the reason otherwise.
 * Self-approval needs both the namespace and the level to allow it.
 */
export function assertMayDecide(
  policy: Policy,
  grant: Grant,
  who: ApproverContext,
  subject: 'request' | 'extension' = 'request',
): void {
  const ns = namespacePolicyFor(policy.clusters[grant.cluster] as ClusterPolicy, grant.namespace);
  if (!ns || !isApprover(ns, who)) {
    throw forbidden(`You are not an approver for ${grant.namespace} on ${grant.cluster}`, approversHint(ns));
  }
  const level = policy.levels[grant.level];
  if (
    who.slackUserId === grant.requester.slackUserId &&
    !(ns.allowSelfApproval && level?.allowSelfApproval)
  ) {
    throw forbidden(
      subject === 'request' ? 'You cannot approve your own request' : 'You cannot decide your own extension',
      'Another approver has to decide.',
    );
  }
  if (grant.approvals.some((a) => a.slackUserId === who.slackUserId)) {
    throw forbidden(
      subject === 'request' ? 'You already approved this request' : 'You already approved this extension',
      'It needs another approver to reach the quorum.',
    );
  }
}

/**
 * May this person approve or deny the extension waiting on this grant? The same rules as the request
 * itself, except that the grant's earlier approvals do not count (the approver of the request may
 * decide its extension). Throws conflict when nothing waits, forbidden otherwise.
 */
export function assertMayDecideExtension(
  policy: Policy,
  grant: Grant,
  who: ApproverContext,
  asked?: ExtensionAsk,
): void {
  if (asked && !sameExtension(grant.extensionRequest, asked)) throw extensionAlreadyDecided(grant, asked);
  if (grant.status !== 'active' || !grant.extensionRequest) {
    throw conflict(`There is no extension waiting on ${grant.id}`, lastExtensionDecision(grant), {
      grantId: grant.id,
    });
  }
  assertMayDecide(policy, { ...grant, approvals: grant.extensionRequest.approvals ?? [] }, who, 'extension');
}

/** Which extension ask a click is about: its id (buttons carry it), or when it was asked (older records). */
export interface ExtensionAsk {
  id?: string | undefined;
  at?: number | undefined;
  seconds?: number | undefined;
}

/** The same ask: by id where either has one, else by when it was asked. */
function sameExtension(current: Grant['extensionRequest'], asked: ExtensionAsk): boolean {
  if (!current) return false;
  if (current.id !== undefined || asked.id !== undefined) return current.id === asked.id;
  return current.at === asked.at;
}

/** Whether a decision (denial or applied extension) answered this ask. */
function answers(decision: { id?: string; at: number }, asked: ExtensionAsk): boolean {
  if (asked.id !== undefined) return decision.id === asked.id;
  return asked.at !== undefined && decision.at >= asked.at;
}

/** Whether this person may decide the extension waiting on this grant (App Home, `approvals`). */
export function mayDecideExtension(policy: Policy, grant: Grant, who: ApproverContext): boolean {
  try {
    assertMayDecideExtension(policy, grant, who);
    return true;
  } catch {
    return false;
  }
}

/** For a click that finds nothing waiting: how the last extension asked was decided, if it was. */
function lastExtensionDecision(grant: Grant): string {
  const denial = grant.extensionDenial;
  const approved = grant.extensions.filter((e) => !e.auto).at(-1);
  if (grant.status === 'active' && denial && (!approved || denial.at >= approved.at)) {
    return `The last one (${formatDuration(denial.seconds)}) was denied by <@${denial.by}>: ${denial.reason}.`;
  }
  if (grant.status === 'active' && approved) {
    return `The last one (${formatDuration(approved.seconds)}) was approved by <@${approved.by}>; the access ends at ${humanTime(grant.expiresAt ?? 0)}.`;
  }
  return `It is ${grant.status}.`;
}

/**
 * The extension `asked` no longer waits: someone decided it first (two approvers clicked at the same
 * moment). Tells the one who lost what happened, naming who decided when the record shows it yet (an
 * approval is claimed first and recorded once the cluster has the new expiry).
 */
export function extensionAlreadyDecided(grant: Grant, asked: ExtensionAsk): AccessError {
  // A button carries the ask's id, not its amount: the amount comes from whatever decided it.
  const what = (seconds: number | undefined) =>
    seconds === undefined
      ? `The extension this button was for on ${grant.id}`
      : `The extension of ${formatDuration(seconds)} on ${grant.id}`;
  const details = { grantId: grant.id };
  const applying = grant.extensionsApplying?.find((e) => asked.id !== undefined && e.id === asked.id);
  if (applying) {
    return conflict(
      `${what(applying.seconds)} was already approved by ${applying.auto ? 'the policy' : `<@${applying.by}>`}`,
      'The new end time is being applied; the approval message shows it in a moment.',
      details,
    );
  }
  const denial = grant.extensionDenial;
  if (denial && answers(denial, asked)) {
    return conflict(
      `${what(denial.seconds)} was already denied by <@${denial.by}>`,
      `Their reason: ${denial.reason}. The access keeps its end time; nothing changed.`,
      details,
    );
  }
  const approved = grant.extensions.find((e) => !e.auto && answers(e, asked));
  if (approved) {
    return conflict(
      `${what(approved.seconds)} was already approved by <@${approved.by}>`,
      `The access now ends at ${humanTime(grant.expiresAt ?? 0)}; nothing else changed.`,
      details,
    );
  }
  const newer = grant.status === 'active' ? grant.extensionRequest : undefined;
  if (newer) {
    // A different ask replaced the one this approver saw: approving it blind would approve an
    // amount they never read.
    return conflict(
      `${what(asked.seconds)} is no longer waiting; ${formatDuration(newer.seconds)} more is asked now`,
      'Look at the current approval message (or `/eks-access approvals`) and decide that one.',
      details,
    );
  }
  if (asked.id === undefined && grant.status === 'active') {
    // An ask recorded before ids: it was claimed and is being applied.
    return conflict(
      `${what(asked.seconds)} was already approved by another approver`,
      'The new end time is being applied; the approval message shows it in a moment.',
      details,
    );
  }
  return conflict(`There is no extension waiting on ${grant.id}`, lastExtensionDecision(grant), details);
}

/**
 * What this person already holds in the namespace a request is for (an approved or active grant of
 * theirs on the same cluster), the same level first, else the one that lasts longest.
 */
export function heldAccess(
  live: readonly Grant[],
  request: { cluster: string; namespace: string; level: string; slackUserId: string },
): HeldAccess | undefined {
  const mine = live
    .filter(
      (g): g is Grant & { status: 'approved' | 'active' } =>
        (g.status === 'active' || g.status === 'approved') &&
        g.requester.slackUserId === request.slackUserId &&
        g.cluster === request.cluster &&
        g.namespace === request.namespace,
    )
    .sort(
      (a, b) =>
        Number(b.level === request.level) - Number(a.level === request.level) ||
        (b.expiresAt ?? Number.POSITIVE_INFINITY) - (a.expiresAt ?? Number.POSITIVE_INFINITY),
    );
  const held = mine[0];
  if (!held) return undefined;
  return {
    grantId: held.id,
    level: held.level,
    status: held.status,
    ...(held.expiresAt !== undefined ? { expiresAt: held.expiresAt } : {}),
  };
}

/**
 * A second request for the level one already holds here is refused while that grant can still be
 * extended: `extend` keeps one grant, one approval message and one end time, where a second grant would
 * ask the approvers again for what they already gave. Another level, or a grant at its cap, may be
 * requested: the approvers see what is held (`Grant.alreadyHolds`).
 */
export function assertNotAlreadyHeld(
  policy: Policy,
  live: readonly Grant[],
  request: { cluster: string; namespace: string; level: string; slackUserId: string },
): HeldAccess | undefined {
  const held = heldAccess(live, request);
  // Only an active grant can be extended; an approved one (being set up, a window to come) is shown.
  if (!held || held.level !== request.level || held.status !== 'active') return held;
  const grant = live.find((g) => g.id === held.grantId) as Grant;
  if (extensionChoices(policy, grant).length === 0) return held;
  throw conflict(
    `You already have \`${held.level}\` in ${request.namespace} on ${request.cluster}: \`${held.grantId}\` lasts until ${humanTime(held.expiresAt ?? 0)}`,
    `For more time, ask to extend it: \`/eks-access extend ${held.grantId} for 1h\` (or Extend on the Home tab). Nothing new was requested.`,
    { grantId: held.grantId, alreadyHeld: true },
  );
}

/** One extension waits at a time: a second ask would silently replace what approvers are looking at. */
export function assertNoExtensionWaiting(grant: Grant): void {
  const waiting = grant.extensionRequest;
  if (!waiting) return;
  throw conflict(
    `An extension of ${formatDuration(waiting.seconds)} is already waiting for approval on ${grant.id}`,
    'Wait for the approvers to decide; you can ask again after that.',
    { grantId: grant.id },
  );
}

/**
 * Whether the policy alone says who this person is on AWS: `linked` or `unlinked` from the explicit
 * map at once, or `lookup` when only the (slow, IAM-walking) email lookup can tell.
 */
export function identityFromMap(policy: Policy, slackUserId: string): 'linked' | 'unlinked' | 'lookup' {
  if (policy.identities.map[slackUserId]) return 'linked';
  return policy.identities.emailTag?.enabled || policy.identities.identityCenter?.enabled
    ? 'lookup'
    : 'unlinked';
}

/**
 * The Kubernetes username this person gets on this cluster: the cluster's own template for
 * identityMapping `none` (the name people already have), the policy's otherwise.
 */
export function kubernetesUsernameFor(
  policy: Policy,
  cluster: string,
  person: { principalArn: string; slackUserId: string; email?: string | undefined },
): string {
  const c = policy.clusters[cluster];
  const template =
    c?.identityMapping === 'none' && c.usernameTemplate
      ? c.usernameTemplate
      : policy.settings.kubernetesUsername;
  return renderUsername(template, person);
}

/** The identity resolver's target for a cluster: whose account an Identity Center session must be in. */
export function accountOfCluster(policy: Policy, cluster: string): { accountId: string } | undefined {
  const accountId = policy.clusters[cluster]?.accountId;
  return accountId ? { accountId } : undefined;
}

/**
 * Throws forbidden for a principal the policy does not accept as a person: an assumed-role session
 * (its name is its caller's choice) unless identities.allowAssumedRoles says otherwise. Checked at
 * submit and again before activation, so a grant that reached Redis some other way is refused too.
 */
export function assertPrincipalAccepted(policy: Policy, principalArn: string): void {
  if (principalParts(principalArn).kind !== 'assumed-role' || policy.identities.allowAssumedRoles) return;
  // Identity Center names the session after its user, so one of the policy's permission sets names a person.
  if (isAcceptedIdentityCenterSession(policy.identities, principalArn)) return;
  throw forbidden(
    `${principalArn} is an assumed-role session, and this policy does not accept those`,
    'Whoever may assume that role can pick any session name, so it does not name one person. An admin has to map your IAM user (or role) under identities.map instead.',
    { identity: 'assumed-role', principalArn },
  );
}

/** Two live principals that would be one Kubernetes user, or one principal under two usernames. */
export interface IdentityHolder {
  principalArn: string;
  username: string;
  /** Where it was seen: a grant id, or a RoleBinding `namespace/name`. */
  source: string;
}

/**
 * Throws forbidden when `person` would share a Kubernetes username with another live principal on
 * the cluster (they would be one user to RBAC and share one identity), or when the same principal
 * already holds a live identity under another username (a changed template: the two would fight
 * over one personal role). Only refuses; never decides who gets access.
 */
export function assertUniqueIdentity(
  person: { cluster: string; principalArn: string; username: string },
  live: readonly IdentityHolder[],
): void {
  const taken = live.find((h) => h.username === person.username && h.principalArn !== person.principalArn);
  if (taken) {
    throw forbidden(
      `Kubernetes user "${person.username}" on ${person.cluster} already belongs to another AWS principal (${taken.principalArn}, ${taken.source})`,
      'Two people must never be one Kubernetes user. An admin has to change settings.kubernetesUsername so it tells them apart (the default eks-access:{account}:{kind}:{iamName} does). Nothing was granted.',
      { identity: 'username-taken', username: person.username, holder: taken.principalArn },
    );
  }
  const renamed = live.find((h) => h.principalArn === person.principalArn && h.username !== person.username);
  if (renamed) {
    throw forbidden(
      `You already have a request or access on ${person.cluster} as Kubernetes user "${renamed.username}" (${renamed.source}); this request would make you "${person.username}"`,
      'The username template changed since that grant. Give that access back (`/eks-access done <id>`) or let it end, then ask again. Nothing was granted.',
      { identity: 'username-changed', username: person.username, previous: renamed.username },
    );
  }
}

/** The policy line an admin adds to link this person: `U…: arn:aws:iam::<account>:user/<name>`. */
export const identityMapEntry = (slackUserId: string): string =>
  `\`${slackUserId}: arn:aws:iam::<account>:user/<name>\` under identities.map in the policy`;

function approversHint(ns: NamespacePolicy | undefined): string {
  if (!ns) return 'This namespace is no longer in the policy.';
  const names = [
    ...ns.approvers.users.map((u) => `<@${u}>`),
    ...ns.approvers.groups.map((g) => `<!subteam^${g}>`),
  ];
  return `Approvers: ${names.join(', ')}.`;
}

/** The auto-approve rule that covers this request, if any. */
export function autoApproveRuleFor(
  ns: NamespacePolicy,
  request: { level: string; durationSeconds: number; slackUserId: string; memberOfGroups: readonly string[] },
): { rule: AutoApproveRule; index: number } | undefined {
  for (const [index, rule] of ns.autoApprove.entries()) {
    if (!rule.levels.includes(request.level)) continue;
    if (request.durationSeconds > (parseDuration(rule.maxDuration) ?? 0)) continue;
    const who = rule.requesters;
    if (
      who &&
      !who.users.includes(request.slackUserId) &&
      !who.groups.some((g) => request.memberOfGroups.includes(g))
    ) {
      continue;
    }
    return { rule, index };
  }
  return undefined;
}

export type ExtensionDecision =
  | { kind: 'auto'; seconds: number }
  | { kind: 'needs-approval'; seconds: number }
  | { kind: 'refused'; why: string };

/**
 * The shortest extension: 5 minutes. Less runs out about as soon as an approver has read it and the
 * worker has moved the end time (IAM trust and RoleBinding), so it is nearly always a slip (`extend
 * … for 1`); a level whose own default is shorter (a test policy's 20s grants) lowers it to that.
 */
export const MIN_EXTENSION_SECONDS = 300;

/** The shortest and longest extension of one level, in seconds. */
export function extensionBounds(level: Pick<LevelPolicy, 'defaultDuration' | 'maxDuration'>): {
  min: number;
  max: number;
} {
  const max = parseDuration(level.maxDuration) ?? 0;
  const min = Math.min(
    MIN_EXTENSION_SECONDS,
    parseDuration(level.defaultDuration) ?? MIN_EXTENSION_SECONDS,
    max,
  );
  return { min, max };
}

/** The steps an extension form offers, before the level's bounds and what is left of its cap. */
const EXTENSION_STEPS = [300, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200, 86_400];

/**
 * The extensions (seconds) this grant may have now, as a form offers them: common steps between the
 * level's shortest and longest extension that stay within its total cap, plus what is left of the cap
 * when that is less than the longest. Empty when none is possible (`decideExtension` says why).
 */
export function extensionChoices(policy: Policy, grant: Grant): number[] {
  const level = policy.levels[grant.level];
  if (!level || level.extend.mode === 'never') return [];
  const { min, max } = extensionBounds(level);
  const cap = parseDuration(level.extend.maxTotal ?? level.maxDuration) ?? 0;
  const top = Math.min(max, cap - committedSeconds(grant));
  if (top < min) return [];
  return [...new Set([...EXTENSION_STEPS.filter((s) => s >= min && s <= top), top])].sort((a, b) => a - b);
}

/** The choice a form starts on: something modest, 30 minutes where offered, else the shortest. */
export const defaultExtension = (choices: readonly number[]): number | undefined =>
  choices.includes(1800) ? 1800 : choices[0];

/**
 * How an extension by `seconds` is handled under the level's extend policy; `typed` is the duration as
 * the person wrote it, so a refusal repeats their words.
 */
export function decideExtension(
  policy: Policy,
  grant: Grant,
  seconds: number,
  typed?: string,
): ExtensionDecision {
  const level = policy.levels[grant.level];
  if (!level) return { kind: 'refused', why: `Level ${grant.level} is no longer in the policy.` };
  if (level.extend.mode === 'never')
    return { kind: 'refused', why: `${grant.level} grants cannot be extended.` };
  const { min, max } = extensionBounds(level);
  if (seconds < min || seconds > max) {
    const asked = typed?.trim() || formatDuration(seconds);
    return {
      kind: 'refused',
      why: `You asked for ${asked} more; one extension of ${grant.level} is at least ${formatDuration(min)} and at most ${level.maxDuration}.`,
    };
  }
  const cap = parseDuration(level.extend.maxTotal ?? level.maxDuration) ?? 0;
  // Extensions claimed but not yet applied count: five concurrent asks must not each see the old total.
  const total = committedSeconds(grant) + seconds;
  if (total > cap) {
    const left = Math.max(0, cap - committedSeconds(grant));
    return {
      kind: 'refused',
      why: `That would make ${formatDuration(total)} in all; ${grant.level} allows ${formatDuration(cap)} (${formatDuration(left)} left). Request access again instead.`,
    };
  }
  // Break-glass never prolongs itself: more time is a decision for an approver.
  return level.extend.mode === 'auto' && !grant.breakGlass
    ? { kind: 'auto', seconds }
    : { kind: 'needs-approval', seconds };
}

/**
 * The worker's re-check before it applies a claimed extension, under the policy as it is now: the level
 * still exists and may be extended this way (automatically only where its mode is still `auto`), this
 * extension is no longer than one may be, everything committed stays within the cap, and an approved
 * extension's approvers each still qualify (with the groups the bot recorded; the requester only where
 * self-approval is allowed) and together make the quorum an extension needs now. Returns why not, or
 * undefined when the claim may be applied. The bot checked all of this at the click; a policy tightened
 * since (an approver removed, a lower cap) must win.
 */
export function extensionClaimRefusal(
  policy: Policy,
  grant: Grant,
  claim: Pick<ClaimedExtension, 'seconds' | 'auto' | 'approvals'>,
): string | undefined {
  const level = policy.levels[grant.level];
  const ns = namespacePolicyOf(policy, grant);
  if (!level || !ns || !ns.levels.includes(grant.level)) {
    return `${grant.level} in ${grant.namespace} on ${grant.cluster} is no longer in the policy`;
  }
  if (level.extend.mode === 'never') return `${grant.level} grants can no longer be extended`;
  if (claim.auto && level.extend.mode !== 'auto')
    return `an extension of ${grant.level} now needs an approver`;
  // The use is sealed with the decision, so a record that drops it fails that seal first.
  if (claim.auto && grant.breakGlass) return 'a break-glass use is extended only by an approver';
  if (claim.seconds > (parseDuration(level.maxDuration) ?? 0)) {
    return `one extension of ${grant.level} may now be at most ${level.maxDuration}`;
  }
  const cap = parseDuration(level.extend.maxTotal ?? level.maxDuration) ?? 0;
  if (committedSeconds(grant) > cap) {
    return `${grant.level} now allows ${formatDuration(cap)} in all, extensions included`;
  }
  if (claim.auto) return undefined;
  const counted: Approval[] = [];
  for (const approval of claim.approvals ?? []) {
    try {
      assertMayDecide(
        policy,
        { ...grant, approvals: counted },
        { slackUserId: approval.slackUserId, memberOfGroups: approval.viaGroups ?? [] },
        'extension',
      );
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return `the approval by <@${approval.slackUserId}> does not hold under the current policy (${why})`;
    }
    counted.push(approval);
  }
  const required = extensionApprovalsRequired(policy, grant);
  if (counted.length < required) {
    return `it has ${counted.length} approval(s); an extension now needs ${required}`;
  }
  return undefined;
}

/**
 * The worker's re-check before it writes anything for an approved grant: under the policy as it is
 * now, the request is still allowed (cluster, namespace, level, duration) and its approvals still make
 * the quorum — each approver still qualifies (through the same `assertMayDecide` the bot applied on the
 * click, with the groups the bot recorded), nobody counts twice, and self-approval only where the
 * policy allows it; an auto-approval only when its rule still covers the request. Throws forbidden or
 * not_found / bad_input (from resolveRequest) naming what no longer holds.
 */
export function assertApprovalsHold(policy: Policy, grant: Grant): void {
  resolveRequest(policy, {
    cluster: grant.cluster,
    namespace: grant.namespace,
    level: grant.level,
    duration: `${grant.durationSeconds}s`,
    reason: grant.reason,
  });
  const auto = grant.approvals.find((a) => a.autoRule);
  if (auto?.autoRule?.startsWith(BREAK_GLASS_ACTOR)) {
    const rule = breakGlassRuleFor(policy, {
      cluster: grant.cluster,
      namespace: grant.namespace,
      level: grant.level,
      durationSeconds: grant.durationSeconds,
      memberOfGroups: auto.viaGroups ?? [],
    });
    if (!rule || breakGlassActor(rule) !== auto.autoRule) {
      throw forbidden(
        `The break-glass rule that granted ${grant.id} no longer covers it`,
        'Ask an approver instead.',
      );
    }
    return;
  }
  if (auto) {
    const need = approvalNeed(policy, grant, {
      slackUserId: grant.requester.slackUserId,
      memberOfGroups: auto.viaGroups ?? [],
    });
    if (need.auto?.actor !== auto.autoRule) {
      throw forbidden(
        `The auto-approve rule that approved ${grant.id} no longer covers it`,
        'Request access again; an approver has to decide.',
      );
    }
    return;
  }
  const counted: Grant['approvals'] = [];
  for (const approval of grant.approvals) {
    try {
      assertMayDecide(
        policy,
        { ...grant, approvals: counted },
        {
          slackUserId: approval.slackUserId,
          memberOfGroups: approval.viaGroups ?? [],
        },
      );
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw forbidden(
        `The approval of ${grant.id} by <@${approval.slackUserId}> does not hold under the current policy (${why})`,
        'Request access again; a current approver has to decide.',
      );
    }
    counted.push(approval);
  }
  const needed = approvalNeed(policy, grant).approvers;
  if (!quorumReached(counted, needed)) {
    throw forbidden(
      `${grant.id} has ${counted.length} approval(s); the policy now needs ${needed}`,
      'Request access again.',
    );
  }
}
