// Use case: a person asks for access. Validates against the policy and resolves who they are on AWS
// before anything is stored, so bad input leaves no trace; then either waits for approvers or, when an
// auto-approve rule covers the request, approves it at once (still audited and shown).

import type { NamespacePolicy, Policy } from '../config/policy.js';
import {
  type ApprovalNeed,
  accountOfCluster,
  approvalNeed,
  assertNotAlreadyHeld,
  assertPrincipalAccepted,
  assertUniqueIdentity,
  expandTargets,
  kubernetesUsernameFor,
  namespacePolicyOf,
  type RequestInput,
  resolveRequest,
} from '../domain/decisions.js';
import { formatDuration, parseDuration } from '../domain/duration.js';
import { forbidden, isAccessError } from '../domain/errors.js';
import type { Grant, GrantOrigin } from '../domain/grant.js';
import { activationDeadline, newGrantId } from '../domain/grant.js';
import { type AccessPlan, planGrant } from '../domain/plan.js';
import { isRobotRequester, roleOfRobot } from '../domain/robots.js';
import { sealDecision } from '../domain/seal.js';
import { windowEnd } from '../domain/window.js';
import { approvalReminderTimes } from '../shared/reminders.js';
import { queueApproved } from './approved.js';
import type { FlowDeps } from './deps.js';

export interface SubmitResult {
  grant: Grant;
  plan: AccessPlan;
  autoApproved: boolean;
  /** How many approvals it needs and why (approvalNeed), for the reply to the requester. */
  need: ApprovalNeed;
}

/**
 * The groups of a namespace's auto-approve rules this person is in (`usergroups.users.list`): who
 * a rule covers is part of how many approvals a request needs.
 */
async function autoApproveGroupsOf(
  deps: Pick<FlowDeps, 'directory'>,
  slackUserId: string,
  ns: NamespacePolicy,
): Promise<string[]> {
  if (isRobotRequester(slackUserId)) return []; // a role is in no Slack group
  const ruleGroups = ns.autoApprove.flatMap((r) => r.requesters?.groups ?? []);
  return ruleGroups.length > 0 ? deps.directory.groupsOf(slackUserId, ruleGroups) : [];
}

/**
 * The auto-approve groups this person is in for a namespace, so the request form can show what a
 * request would need (approvalNeed) before anything is submitted.
 */
export async function autoApproveGroupsFor(
  deps: Pick<FlowDeps, 'policy' | 'directory'>,
  slackUserId: string,
  where: { cluster: string; namespace: string },
): Promise<string[]> {
  const ns = namespacePolicyOf(deps.policy, where);
  return ns ? autoApproveGroupsOf(deps, slackUserId, ns) : [];
}

/** The dry run for a request that is not stored yet (the modal preview and `request` both show it). */
export async function previewRequest(
  deps: Pick<FlowDeps, 'policy' | 'directory' | 'identity' | 'clock'>,
  slackUserId: string,
  input: RequestInput,
): Promise<{ plan: AccessPlan; durationSeconds: number; requiredApprovals: number }> {
  const resolved = resolveRequest(deps.policy, input, deps.clock.now());
  const requester = await requesterFor(deps, slackUserId, resolved.cluster);
  const plan = planGrant({
    policy: deps.policy,
    grant: {
      id: 'ea-preview0',
      cluster: resolved.cluster,
      namespace: resolved.namespace,
      level: resolved.level,
      requester,
    },
    expiresAt: deps.clock.now() + resolved.durationSeconds * 1000,
  });
  return { plan, durationSeconds: resolved.durationSeconds, requiredApprovals: resolved.requiredApprovals };
}

async function requesterFor(
  deps: Pick<FlowDeps, 'policy' | 'directory' | 'identity'>,
  slackUserId: string,
  cluster: string,
): Promise<Grant['requester']> {
  // A role with no person behind it has no Slack profile; the policy alone says who it is.
  const profile = isRobotRequester(slackUserId) ? { slackUserId } : await deps.directory.profile(slackUserId);
  const principalArn = await deps.identity.principalFor(profile, accountOfCluster(deps.policy, cluster));
  assertPrincipalAccepted(deps.policy, principalArn);
  return {
    slackUserId,
    principalArn,
    kubernetesUsername: kubernetesUsernameFor(deps.policy, cluster, {
      principalArn,
      slackUserId,
      email: profile.email,
    }),
    ...(profile.displayName ? { displayName: profile.displayName } : {}),
    ...(profile.email ? { email: profile.email } : {}),
  };
}

/**
 * Refuses a request whose Kubernetes username another principal's live request or grant on the
 * cluster already has (the validator catches what the identity map can produce; this catches the
 * rest, e.g. the email lookup). Activation asks the cluster the same question again.
 */
function assertNoIdentityCollision(
  live: readonly Grant[],
  cluster: string,
  requester: Grant['requester'],
): void {
  assertUniqueIdentity(
    { cluster, principalArn: requester.principalArn, username: requester.kubernetesUsername },
    live
      .filter((g) => g.cluster === cluster)
      .map((g) => ({
        principalArn: g.requester.principalArn,
        username: g.requester.kubernetesUsername,
        source: `request ${g.id}`,
      })),
  );
}

/**
 * A request refused because of who the person is on AWS (two IAM users with their email, a username
 * another principal holds, an assumed-role session) goes to the audit trail as well as to the person:
 * it can mean someone tried to pass as someone else. Nothing is stored besides the audit event.
 */
async function reportIdentityRefusal<T>(
  deps: Pick<FlowDeps, 'audit' | 'clock'>,
  slackUserId: string,
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const refusal = isAccessError(error) ? error.details['identity'] : undefined;
    if (typeof refusal === 'string' && isAccessError(error)) {
      const facts = Object.entries(error.details).filter(
        (entry): entry is [string, string] => typeof entry[1] === 'string',
      );
      await deps.audit.append({
        action: 'identity-refused',
        actor: slackUserId,
        grantId: '',
        at: deps.clock.now(),
        details: Object.fromEntries(facts),
      });
    }
    throw error;
  }
}

/**
 * When an undecided request lapses: after the pending timeout, and for a window at its start (or, with
 * `windows.lateStart`, that long after it: a late approval still opens the window, which ends on time).
 */
export function pendingUntilFor(
  policy: Policy,
  now: number,
  request: { startsAt?: number | undefined; durationSeconds: number },
): number {
  const timeout = now + (parseDuration(policy.settings.pendingTimeout) ?? 86_400) * 1000;
  const end = windowEnd(request);
  if (request.startsAt === undefined || end === undefined) return timeout;
  const late = policy.settings.windows.lateStart
    ? (parseDuration(policy.settings.windows.lateStart) ?? 0)
    : 0;
  return Math.min(timeout, request.startsAt + late * 1000, end);
}

/**
 * A request on several targets (`on dev,staging`, `on all`, `request a,b …`): every target is checked
 * first (policy, identity, tickets) and nothing is stored unless all pass; then each becomes its own
 * grant, approved by its own approvers, ending on its own, tied together by `group` (the first grant's
 * id). One target is an ordinary request.
 */
export async function submitRequests(
  deps: FlowDeps,
  slackUserId: string,
  input: RequestInput & { origin?: GrantOrigin },
): Promise<SubmitResult[]> {
  const targets = expandTargets(deps.policy, input);
  if (targets.length === 1) return [await submitRequest(deps, slackUserId, { ...input, ...targets[0] })];
  const timeZone = await timeZoneFor(deps, slackUserId, input);
  const prepared: Prepared[] = [];
  for (const target of targets) {
    prepared.push(await prepare(deps, slackUserId, { ...input, ...target, timeZone }));
  }
  const ids = prepared.map((one) => one.grant.id);
  const group = { id: ids[0] as string, size: ids.length, targets: ids };
  const grouped = prepared.map((one) => withGroup(one, group));
  // Every target is stored before any is announced: the targets that share an approval channel share
  // one message, and whichever notification comes first renders all of them from the store.
  for (const one of grouped) await store(deps, slackUserId, one);
  const results: SubmitResult[] = [];
  for (const one of grouped) results.push(await start(deps, one));
  return results;
}

export async function submitRequest(
  deps: FlowDeps,
  slackUserId: string,
  input: RequestInput & { origin?: GrantOrigin },
): Promise<SubmitResult> {
  const timeZone = await timeZoneFor(deps, slackUserId, input);
  return record(deps, slackUserId, await prepare(deps, slackUserId, { ...input, timeZone }));
}

/** A window's start is read in the requester's time zone, which only their profile knows. */
async function timeZoneFor(
  deps: Pick<FlowDeps, 'directory'>,
  slackUserId: string,
  input: RequestInput,
): Promise<string | undefined> {
  return input.start && !input.timeZone
    ? (await deps.directory.profile(slackUserId)).timeZone
    : input.timeZone;
}

/** A request checked and built, not stored yet. */
export interface Prepared {
  grant: Grant;
  need: ApprovalNeed;
  plan: AccessPlan;
  autoActor: string | undefined;
  qualifyingGroups: string[];
}

/**
 * Who approved a request at once, instead of approvers and auto-approve rules: a break-glass rule, with
 * the groups through which the requester qualified.
 */
export interface ApprovedAtOnce {
  actor: string;
  viaGroups: string[];
  breakGlass: NonNullable<Grant['breakGlass']>;
}

/**
 * Checks one target against the policy and the identity source and builds its grant; stores nothing.
 * `atOnce` (break-glass) approves it by that rule instead of asking anyone.
 */
export async function prepare(
  deps: FlowDeps,
  slackUserId: string,
  input: RequestInput & { origin?: GrantOrigin },
  atOnce?: ApprovedAtOnce,
): Promise<Prepared> {
  const { policy, clock } = deps;
  const resolved = resolveRequest(policy, input, clock.now());
  const live = await deps.store.listByStatus(['pending', 'approved', 'active', 'revoking']);
  // The same level held and still extendable is refused (extend it instead); other holdings are shown
  // to the approvers. Break-glass is the on-call's way in and is never held up by this.
  const alreadyHolds = atOnce ? undefined : assertNotAlreadyHeld(policy, live, { ...resolved, slackUserId });
  const requester = await reportIdentityRefusal(deps, slackUserId, async () => {
    const found = await requesterFor(deps, slackUserId, resolved.cluster);
    assertNoIdentityCollision(live, resolved.cluster, found);
    return found;
  });
  const now = clock.now();
  const memberOfGroups = await autoApproveGroupsOf(deps, slackUserId, resolved.namespacePolicy);
  const need = approvalNeed(policy, resolved, { slackUserId, memberOfGroups });
  const auto = atOnce ? undefined : need.auto;
  if (isRobotRequester(slackUserId) && !auto) {
    throw forbidden(
      `No auto-approve rule names ${roleOfRobot(slackUserId)} for ${resolved.level} in ${resolved.namespace} on ${resolved.cluster} for ${formatDuration(resolved.durationSeconds)}`,
      'A role with no person behind it is granted only by an auto-approve rule that names it under requesters.roles; nobody approves it by hand. Nothing was requested.',
      { identity: 'robot-without-rule' },
    );
  }
  const autoActor = atOnce?.actor ?? auto?.actor;
  const qualifyingGroups =
    atOnce?.viaGroups ?? (auto ? memberOfGroups.filter((g) => auto.rule.requesters?.groups.includes(g)) : []);
  const unsealed: Grant = {
    id: newGrantId(deps.randomBytes),
    version: 1,
    status: autoActor ? 'approved' : 'pending',
    requester,
    cluster: resolved.cluster,
    namespace: resolved.namespace,
    level: resolved.level,
    durationSeconds: resolved.durationSeconds,
    ...(resolved.startsAt !== undefined ? { startsAt: resolved.startsAt } : {}),
    reason: resolved.reason,
    ...(resolved.tickets.length > 0 ? { tickets: resolved.tickets } : {}),
    ...(input.origin ? { origin: input.origin } : {}),
    requiredApprovals: need.approvers,
    approvals: autoActor
      ? [
          {
            slackUserId: autoActor,
            at: now,
            autoRule: autoActor,
            ...(qualifyingGroups.length > 0 ? { viaGroups: qualifyingGroups } : {}),
            ...(auto?.rule.onCall && qualifyingGroups.length > 0 ? { onCall: true } : {}),
          },
        ]
      : [],
    createdAt: now,
    pendingUntil: pendingUntilFor(policy, now, resolved),
    ...(autoActor ? { decidedAt: now, activateBy: activationDeadline(now, resolved.startsAt) } : {}),
    ...(atOnce ? { breakGlass: atOnce.breakGlass } : {}),
    ...(alreadyHolds ? { alreadyHolds } : {}),
    extensions: [],
  };
  const grant: Grant = autoActor
    ? { ...unsealed, decisionSeal: sealDecision(deps.seal, unsealed) }
    : unsealed;
  const plan = planGrant({ policy, grant, expiresAt: now + grant.durationSeconds * 1000 });
  return { grant, need, plan, autoActor, qualifyingGroups };
}

/** Marks a prepared grant as one target of a group (display and `done <group>`; not part of any seal). */
function withGroup(one: Prepared, group: NonNullable<Grant['group']>): Prepared {
  return { ...one, grant: { ...one.grant, group } };
}

/** Stores a prepared grant, audits it, and starts its life: waiting for approvers, or activation. */
export async function record(deps: FlowDeps, slackUserId: string, prepared: Prepared): Promise<SubmitResult> {
  await store(deps, slackUserId, prepared);
  return start(deps, prepared);
}

/** Stores a prepared grant and audits the request (and an approval by rule); tells nobody yet. */
async function store(deps: FlowDeps, slackUserId: string, prepared: Prepared): Promise<void> {
  const { grant, autoActor, qualifyingGroups } = prepared;
  const now = grant.createdAt;
  await deps.store.create(grant);
  await deps.audit.append({
    action: 'requested',
    actor: slackUserId,
    grantId: grant.id,
    at: now,
    details: {
      cluster: grant.cluster,
      namespace: grant.namespace,
      level: grant.level,
      durationSeconds: grant.durationSeconds,
      ...(grant.startsAt !== undefined ? { startsAt: new Date(grant.startsAt).toISOString() } : {}),
      reason: grant.reason,
      ...(grant.tickets ? { tickets: grant.tickets.join(',') } : {}),
      ...(grant.group ? { group: grant.group.id } : {}),
      ...(grant.breakGlass ? { breakGlass: grant.breakGlass.rule } : {}),
      ...(grant.origin ? { origin: grant.origin } : {}),
      principalArn: grant.requester.principalArn,
    },
  });
  if (autoActor) {
    await deps.audit.append({
      action: 'approved',
      actor: autoActor,
      grantId: grant.id,
      at: now,
      // The group membership seen at request time is the evidence the rule held (e.g. on call).
      details: {
        rule: autoActor,
        to: 'approved',
        ...(qualifyingGroups.length > 0 ? { viaGroups: qualifyingGroups.join(',') } : {}),
      },
    });
  }
}

/** Starts a stored grant's life: activation when a rule approved it, otherwise waiting for approvers. */
async function start(deps: FlowDeps, prepared: Prepared): Promise<SubmitResult> {
  const { grant, need, plan, autoActor } = prepared;
  if (autoActor) {
    // The message is posted (and its ts stored) before the worker may start writing the grant.
    await deps.notifier.grantChanged(grant, { kind: 'approved', by: autoActor });
    await queueApproved(deps, grant);
  } else {
    await deps.scheduler.schedulePendingTimeout(grant.id, grant.pendingUntil);
    for (const at of approvalReminderTimes(grant)) {
      await deps.scheduler.scheduleApprovalReminder(grant.id, at);
    }
    await deps.notifier.grantChanged(grant, { kind: 'requested', plan });
  }
  return { grant, plan, autoApproved: Boolean(autoActor), need };
}
