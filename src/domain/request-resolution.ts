// Request resolution: what a request names (namespace, cluster, level, duration, reason, start) checked
// against the policy and turned into targets, and whether the person already holds that access.

import type { ClusterPolicy, LevelPolicy, NamespacePolicy, Policy } from '../config/policy.js';
import { DNS1123_LABEL } from '../config/policy.js';
import { approvalNeed } from './approval-rules.js';
import { formatDuration, parseDuration } from './duration.js';
import { badInput, conflict, notFound } from './errors.js';
import { extensionChoices } from './extension-rules.js';
import type { Grant, HeldAccess } from './grant.js';
import { clustersOffering, namespacePolicyFor, requestableHint } from './namespace-policy.js';
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
