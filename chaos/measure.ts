// What a chaos scenario measures on the real platform once its fault is in place: which traces of its
// grants are still there (RoleBinding, personal IAM role, aws-auth entry, EKS access entry), when the last
// of them went, whether foreign aws-auth content survived, which grants are stuck, and how many
// "activated" / "ended" notifications each grant produced (each is one Slack DM to the requester).
import { isDeepStrictEqual } from 'node:util';
import { ListAccessEntriesCommand } from '@aws-sdk/client-eks';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { type Grant, TERMINAL_STATUSES } from '../src/domain/grant.js';
import { LABELS, personalRoleName } from '../src/domain/names.js';
import { type Harness, ORIGINAL_AWS_AUTH, readAwsAuth } from '../test/int/engine-harness.js';
import { adminKubeConfig } from '../test/platform/context.js';

/** The reconciler's period in every scenario, and what a sweep on a shared 2-core machine may add. */
export const PERIOD_MS = 3_000;
export const SLACK_MS = 4_000;
/** The goal: after the fault clears (or expiry, if later), every trace gone within one period. */
export const GOAL_MS = PERIOD_MS + SLACK_MS;

export interface Outcome {
  /** Grants the scenario created. */
  grants: number;
  /** ms from max(expiry, fault cleared) until the last trace went; undefined: not within the watch. */
  goneAfterMs: number | undefined;
  /** ms from the (last) expiry until the last trace went. */
  afterExpiryMs: number | undefined;
  /** Traces still there at the end of the watch. */
  leftBehind: string[];
  /** Foreign aws-auth content (or a foreign access entry) changed. */
  foreignChanged: boolean;
  /** Grants (id: status) not in a terminal state at the end. */
  stuck: string[];
  /** Grants whose record survived but that never announced "activated" / "ended". */
  lost: number;
  /** Extra "activated" / "ended" announcements. */
  duplicated: number;
  /** A scenario's own figures, in words. */
  notes: string[];
  /** What missed the goal; empty when met. */
  problems: string[];
}

export async function traces(h: Harness, grants: readonly Grant[]): Promise<string[]> {
  const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const ids = new Set(grants.map((g) => g.id));
  const left: string[] = [];
  const bindings = await rbac.listNamespacedRoleBinding({ namespace: h.namespace });
  for (const b of bindings.items) {
    const id = b.metadata?.labels?.[LABELS.grantId];
    if (id && ids.has(id)) left.push(`RoleBinding ${b.metadata?.name}`);
  }
  const roles = [...new Set(grants.map((g) => personalRoleName(h.cluster, g.requester.principalArn)))];
  const awsAuth = h.mode === 'aws-auth' ? ((await readAwsAuth(h))['mapRoles'] ?? '') : '';
  const entries =
    h.mode === 'access-entries'
      ? ((await h.eks.send(new ListAccessEntriesCommand({ clusterName: h.cluster }))).accessEntries ?? [])
      : [];
  for (const role of roles) {
    if (await h.roleExists(role)) left.push(`IAM role ${role}`);
    if (awsAuth.includes(`/${role}`)) left.push(`aws-auth entry ${role}`);
    if (entries.some((arn) => arn.endsWith(`/${role}`))) left.push(`access entry ${role}`);
  }
  return left;
}

/**
 * Polls until every trace of `grants` is gone or `watchUntil` (epoch ms) passes; returns when the last
 * went (epoch ms) and what is left.
 */
export async function watchGone(
  h: Harness,
  grants: readonly Grant[],
  watchUntil: number,
): Promise<{ goneAt: number | undefined; left: string[] }> {
  for (;;) {
    const left = await traces(h, grants);
    if (left.length === 0) return { goneAt: Date.now(), left };
    if (Date.now() > watchUntil) return { goneAt: undefined, left };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Reads every grant back until each is terminal (or its record is gone) or `timeoutMs` passes. */
export async function stuckGrants(
  h: Harness,
  grants: readonly Grant[],
  timeoutMs: number,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stuck: string[] = [];
    for (const g of grants) {
      const now = await h.runtime.store.get(g.id);
      if (now && !TERMINAL_STATUSES.has(now.status)) stuck.push(`${g.id}: ${now.status}`);
    }
    if (stuck.length === 0 || Date.now() > deadline) return stuck;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * The whole verdict after a fault: traces gone within the goal of `clearedAt` (or the last expiry),
 * foreign content as it was, nothing stuck, one "activated" and one "ended" per grant whose record
 * survived (`recordsLost`: Redis lost them, so no announcement can be expected). `announcedElsewhere`:
 * what worker processes of the scenario announced besides the harness's notifier. By default it watches
 * 20 s past the goal, so a miss still gets a figure.
 */
export async function verdict(
  h: Harness,
  grants: readonly Grant[],
  {
    clearedAt = 0,
    recordsLost = false,
    foreignIntact = async () => true,
    notes = [],
    announcedElsewhere = [],
    watchMs = GOAL_MS + 20_000,
  }: {
    clearedAt?: number;
    recordsLost?: boolean;
    foreignIntact?: () => Promise<boolean>;
    notes?: string[];
    announcedElsewhere?: readonly { grantId: string; kind: string }[];
    /** How long after `clearedAt` (or expiry) to keep watching, so a miss still gets a figure. */
    watchMs?: number;
  } = {},
): Promise<Outcome> {
  const expiresAt = Math.max(...grants.map((g) => g.expiresAt ?? 0));
  const from = Math.max(expiresAt, clearedAt);
  const { goneAt, left } = await watchGone(h, grants, Math.max(Date.now(), from) + watchMs);
  const stuck = recordsLost ? [] : await stuckGrants(h, grants, GOAL_MS);
  const awsAuthIntact =
    h.mode !== 'aws-auth' || left.length > 0 || isDeepStrictEqual(await readAwsAuth(h), ORIGINAL_AWS_AUTH);
  const foreignChanged = !awsAuthIntact || !(await foreignIntact());
  const expected = recordsLost ? ['activated'] : ['activated', 'ended'];
  const kindsOf = (g: Grant) => [
    ...h.notifier.kinds(g.id),
    ...announcedElsewhere.filter((a) => a.grantId === g.id).map((a) => a.kind),
  ];
  await announced(grants, kindsOf, expected, GOAL_MS);
  let lost = 0;
  let duplicated = 0;
  for (const g of grants) {
    const kinds = kindsOf(g);
    for (const kind of ['activated', 'ended']) {
      const n = kinds.filter((k) => k === kind).length;
      if (n > 1) duplicated += n - 1;
      if (n === 0 && expected.includes(kind)) lost += 1;
    }
  }
  const goneAfterMs = goneAt === undefined ? undefined : Math.max(0, goneAt - from);
  const problems: string[] = [];
  if (goneAfterMs === undefined) problems.push(`still there: ${left.join(', ')}`);
  else if (goneAfterMs > GOAL_MS)
    problems.push(`gone ${goneAfterMs} ms after the fault cleared (> ${GOAL_MS})`);
  if (foreignChanged) problems.push('foreign content changed');
  if (stuck.length > 0) problems.push(`stuck: ${stuck.join(', ')}`);
  if (lost > 0) problems.push(`${lost} notification(s) lost`);
  if (duplicated > 0) problems.push(`${duplicated} notification(s) duplicated`);
  return {
    grants: grants.length,
    goneAfterMs,
    afterExpiryMs: goneAt === undefined ? undefined : goneAt - expiresAt,
    leftBehind: left,
    foreignChanged,
    stuck,
    lost,
    duplicated,
    notes,
    problems,
  };
}

/**
 * Waits until every grant announced each of `kinds` or `timeoutMs` passes. An announcement is the last
 * step of a transition (after the record and the audit entry), so a grant seen terminal a moment ago
 * may not have announced its end yet; one that never does is counted as lost by the caller.
 */
async function announced(
  grants: readonly Grant[],
  kindsOf: (g: Grant) => string[],
  kinds: readonly string[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const missing = () => grants.some((g) => kinds.some((k) => !kindsOf(g).includes(k)));
  while (missing() && Date.now() <= deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Waits for a moment on the wall clock: the scenario's fault is a duration, nothing to poll. */
export async function until(at: number): Promise<void> {
  const ms = at - Date.now();
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}
