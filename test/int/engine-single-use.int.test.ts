// Single use on real servers (issue #18): whatever someone with Redis write does to a record afterwards,
// a decision activates a grant at most once, an extension claim moves the expiry at most once and never
// past the cap the approval allows, a grant that ended stays ended, and a break-glass use cannot shed its
// `breakGlass`. Proven by what the cluster and IAM hold (RoleBinding, trust, aws-auth entry, a
// SubjectAccessReview), not by which function ran.
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { requireArchive } from '../../src/bin/engine-runtime.js';
import { reviewBreakGlass } from '../../src/bot/break-glass.js';
import { requestExtension } from '../../src/bot/request-extension.js';
import { isoTime } from '../../src/domain/clock.js';
import type { Grant } from '../../src/domain/grant.js';
import { ANNOTATIONS, LABELS, personalRoleName } from '../../src/domain/names.js';
import { sealDecision, sealDecisionV1 } from '../../src/domain/seal.js';
import { activateGrant } from '../../src/engine/activate.js';
import { markUpgrade, recordEnded } from '../../src/engine/ledger.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig, awsClientConfig, uniqueName } from '../platform/context.js';
import { approvedGrant } from '../support/grants.js';
import { pollUntil } from '../support/poll.js';
import { testSealKeys } from '../support/seal.js';
import {
  engineHarness,
  flowDeps,
  type Harness,
  ORIGINAL_AWS_AUTH,
  readAwsAuth,
  workerDyingAfter,
} from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const HOUR = 3_600_000;
/** view: 1 h at a time, extended automatically up to 2 h in all. */
const VIEW =
  '{ clusterRole: view, defaultDuration: 1h, maxDuration: 1h, extend: { mode: auto, maxTotal: 2h } }';

const rbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
const bindingsOf = async (grantId: string) =>
  (await rbac().listRoleBindingForAllNamespaces({ labelSelector: `${LABELS.grantId}=${grantId}` })).items;
const bindingExpiry = async (grantId: string) =>
  (await bindingsOf(grantId))[0]?.metadata?.annotations?.[ANNOTATIONS.expiresAt];

async function trustEnd(harness: Harness, roleName: string): Promise<string | undefined> {
  const role = await harness.iam.send(new GetRoleCommand({ RoleName: roleName }));
  const trust = JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? '{}'));
  return trust.Statement?.[0]?.Condition?.DateLessThan?.['aws:CurrentTime'];
}

/** What someone with Redis write does: puts the record back as they like, whatever the version says. */
async function overwrite(harness: Harness, grant: Grant): Promise<void> {
  const current = await harness.runtime.store.get(grant.id);
  const ok = await harness.runtime.store.replace({ ...grant, version: (current?.version ?? 0) + 1 });
  expect(ok).toBe(true);
}

/** Nothing of the person's access is on the cluster or in IAM: binding, permission, role, mapping. */
async function noAccess(
  harness: Harness,
  grantId: string,
  person: { principalArn: string; username: string },
) {
  expect(await bindingsOf(grantId)).toHaveLength(0);
  expect(await harness.allowed(person.username, 'list', 'pods', '', harness.namespace)).toBe(false);
  expect(await harness.roleExists(personalRoleName(harness.cluster, person.principalArn))).toBe(false);
  expect(await readAwsAuth(harness)).toEqual(ORIGINAL_AWS_AUTH);
}

/** Waits until the replayed record is settled (refused: failed), failing at once if it became active. */
async function refused(harness: Harness, grantId: string): Promise<Grant> {
  const settled = await harness.waitFor(grantId, ['failed', 'active']);
  expect(settled.status, `${grantId} must not become active again`).toBe('failed');
  return settled;
}

const actions = async (harness: Harness, grantId: string) =>
  (await harness.runtime.audit.read({ grantId })).map((e) => e.action);

describe('a replayed decision', () => {
  it('an expired grant set back to approved (its own or fresh timestamps) never gives access again and is audited', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const alice = await h.person();
    const approved = await h.approve(alice, { level: 'view', durationSeconds: 3 });
    await h.waitFor(approved.id, ['active']);
    const ended = await h.waitFor(approved.id, ['expired'], 30_000);
    await h.notifier.announced(approved.id, 'ended');
    await noAccess(h, approved.id, alice);

    // The record exactly as the bot sealed it, back to approved, its activation queued again.
    const { activatedAt: _a, expiresAt: _e, endedAt: _d, endReason: _r, endedBy: _b, ...asApproved } = ended;
    await overwrite(h, { ...asApproved, status: 'approved' });
    await h.runtime.scheduler.enqueueActivation(approved.id);
    const first = await refused(h, approved.id);
    expect(first.failure?.reason).toMatch(/cannot be activated: it has already ended/);
    await noAccess(h, approved.id, alice);
    expect(await actions(h, approved.id)).toContain('replayed-decision');

    // Fresh timestamps (an approval "a minute ago", decided three minutes ago for the reconciler): the
    // reconciler does not re-queue it, and the activation would refuse it anyway.
    const now = Date.now();
    await overwrite(h, {
      ...asApproved,
      status: 'approved',
      decidedAt: now - 3 * 60_000,
      createdAt: now - 4 * 60_000,
    });
    const report = await reconcile(h.deps);
    expect(report.activationsRequeued).not.toContain(approved.id);
    expect(report.activationsRefused).toContain(approved.id);
    await refused(h, approved.id);
    await overwrite(h, { ...asApproved, status: 'approved', decidedAt: now, activateBy: now + HOUR });
    await h.runtime.scheduler.enqueueActivation(approved.id);
    await refused(h, approved.id);
    await noAccess(h, approved.id, alice);
    expect(
      (await actions(h, approved.id)).filter((a) => a === 'replayed-decision').length,
    ).toBeGreaterThanOrEqual(2);
  });

  it('a grant revoked by an approver, and a break-glass use flagged by one, stay revoked', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const harness = h;
    const [bob, carol] = [await h.person(), await h.person()];
    const revoked = await h.approve(bob, { level: 'view', durationSeconds: 3600 });
    // A break-glass use (sealed with its rule and incident) that an approver flags: Flag revokes at once.
    const use = await breakGlassGrant(h, carol);
    for (const g of [revoked, use]) await h.waitFor(g.id, ['active']);
    await endGrant(h.runtime, revoked.id, 'revoked', 'U0APPROVER');
    await reviewBreakGlass(flowDeps(h), use.id, 'U0SECOND', 'flagged', 'no incident by that number');
    for (const g of [revoked, use]) await h.waitFor(g.id, ['revoked']);
    await noAccess(h, revoked.id, bob);
    await noAccess(h, use.id, carol);

    // Both set back to approved within what their approvals would still allow (access until 1 h from now).
    for (const g of [revoked, use]) {
      const now = (await harness.runtime.store.get(g.id)) as Grant;
      const { endedAt: _d, endReason: _r, endedBy: _b, activatedAt: _a, expiresAt: _e, ...asApproved } = now;
      await overwrite(harness, { ...asApproved, status: 'approved' });
      await harness.runtime.scheduler.enqueueActivation(g.id);
    }
    for (const g of [revoked, use]) await refused(harness, g.id);
    await noAccess(h, revoked.id, bob);
    await noAccess(h, use.id, carol);
    for (const g of [revoked, use]) expect(await actions(harness, g.id)).toContain('replayed-decision');
  });
});

describe('a grant whose end is recorded, when Redis lost its record before its RoleBinding went', () => {
  it('is removed by the reconciler and never rebuilt as active', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const alice = await h.person();
    const approved = await h.approve(alice, { level: 'view', durationSeconds: 3600 });
    await h.waitFor(approved.id, ['active']);
    // A revocation that recorded the end and died before it removed anything; then Redis lost the record.
    await recordEnded(h.deps, approved, 'revoked', 'U0APPROVER');
    const { redis } = h.runtime;
    const keys = await redis.keys(`${h.runtime.env.REDIS_PREFIX}*${approved.id}*`);
    if (keys.length > 0) await redis.del(...keys);
    for (const set of await redis.keys(`${h.runtime.env.REDIS_PREFIX}status:*`))
      await redis.srem(set, approved.id);
    expect(await h.runtime.store.get(approved.id)).toBeUndefined();
    expect(await bindingsOf(approved.id)).toHaveLength(1);

    const report = await reconcile(h.deps);
    expect(report.grantsRebuilt.map((g) => g.grantId)).not.toContain(approved.id);
    expect(report.bindingsRemoved).toContainEqual(
      expect.objectContaining({ grantId: approved.id, why: 'grant ended (ledger)' }),
    );
    expect(await h.runtime.store.get(approved.id)).toBeUndefined();
    await noAccess(h, approved.id, alice);
  });
});

describe('an approval not used by its activateBy', () => {
  it('is refused (an old approved record the reconciler would re-queue): nothing written, audited', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const lena = await h.person();
    // Approved (and sealed) two hours ago, never activated: e.g. a record kept from then and queued now.
    const stale = await h.approve(lena, { level: 'view', durationSeconds: 3600, now: Date.now() - 2 * HOUR });
    const failed = await refused(h, stale.id);
    expect(failed.failure?.reason).toMatch(/its approval had to be used by/);
    expect(await actions(h, stale.id)).toContain('replayed-decision');
    await noAccess(h, stale.id, lena);
  });
});

type Person = { principalArn: string; slackUserId: string; username: string };

/** An hour of `view` for the person, approved by U0APPROVER now and sealed (not stored). */
const viewApproved = (harness: Harness, person: Person, reason: string): Grant =>
  approvedGrant({
    requester: {
      slackUserId: person.slackUserId,
      principalArn: person.principalArn,
      kubernetesUsername: person.username,
    },
    cluster: harness.cluster,
    namespace: harness.namespace,
    level: 'view',
    durationSeconds: 3600,
    reason,
    now: Date.now(),
    approvers: ['U0APPROVER'],
  });

/** An approved record as versions before seal v2 wrote it: no activateBy, a v1 seal. */
function v1Approved(harness: Harness, person: Person): Grant {
  const { activateBy: _none, ...old } = viewApproved(harness, person, 'INC-8 before the upgrade');
  return { ...old, decisionSeal: sealDecisionV1(testSealKeys(), old) };
}

/** A break-glass grant as the bot records one (the use sealed with the decision), queued for activation. */
async function breakGlassGrant(harness: Harness, person: Person): Promise<Grant> {
  const plain = viewApproved(harness, person, 'INC-7 checkout down');
  const use: Grant = {
    ...plain,
    breakGlass: { rule: 'oncall', incident: 'INC-7 checkout down', reviewDue: Date.now() + 86_400_000 },
  };
  const sealed = { ...use, decisionSeal: sealDecision(testSealKeys(), use) };
  await harness.runtime.store.create(sealed);
  await harness.runtime.scheduler.enqueueActivation(sealed.id);
  return sealed;
}

describe('a break-glass use with `breakGlass` removed in Redis', () => {
  it('fails the decision seal: never activated, and the bot will not extend it automatically', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    const dave = await h.person();
    const use = await breakGlassGrant(h, dave);
    const { breakGlass: _gone, ...disguised } = use;
    await overwrite(h, disguised);
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const failed = await refused(h, use.id);
    expect(failed.failure?.reason).toContain('decision seal is mismatch');
    expect(await actions(h, use.id)).toContain('forged-grant');
    await noAccess(h, use.id, dave);

    // Activated as sealed, then disguised: the bot refuses the automatic extension a plain grant would get.
    const erin = await h.person();
    const live = await breakGlassGrant(h, erin);
    const active = await h.waitFor(live.id, ['active']);
    const { breakGlass: _also, ...plainAgain } = active;
    await overwrite(h, plainAgain);
    await expect(requestExtension(flowDeps(h), live.id, erin.slackUserId, '30m')).rejects.toMatchObject({
      kind: 'forbidden',
    });
    expect(await bindingExpiry(live.id)).toBe(isoTime(active.expiresAt as number));
  });
});

describe('a replayed or re-queued extension claim', () => {
  it('moves nothing, and the total never exceeds the cap (maxTotal 2h on a 1h grant)', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const harness = h;
    const frank = await h.person();
    const role = personalRoleName(h.cluster, frank.principalArn);
    const grant = await h.approve(frank, { level: 'view', durationSeconds: 3600 });
    const active = await h.waitFor(grant.id, ['active']);
    const base = active.expiresAt as number;
    const deps = flowDeps(h);

    // The one legitimate extension: +1h, the cap.
    const outcome = await requestExtension(deps, grant.id, frank.slackUserId, '1h');
    expect(outcome.kind).toBe('applying');
    const claim = outcome.kind === 'applying' ? outcome.extension : undefined;
    const extended = await settled(h, grant.id, (g) => g.extensions.length === 1);
    const capped = isoTime(base + HOUR);
    expect(extended.expiresAt).toBe(base + HOUR);
    expect(await bindingExpiry(grant.id)).toBe(capped);
    expect(await trustEnd(h, role)).toBe(capped);

    // Replayed three times: `extensions` cleared, the applied claim (with its valid seal) put back and
    // its job queued again (as the reconciler's re-queue would).
    for (let round = 0; round < 3; round++) {
      const now = (await harness.runtime.store.get(grant.id)) as Grant;
      await overwrite(harness, {
        ...now,
        extensions: [],
        extensionsApplying: [claim as NonNullable<typeof claim>],
      });
      await harness.runtime.scheduler.enqueueExtension(grant.id, claim?.id as string);
      await settled(harness, grant.id, (g) => (g.extensionsApplying ?? []).length === 0);
    }
    expect(await bindingExpiry(grant.id)).toBe(capped);
    expect(await trustEnd(h, role)).toBe(capped);
    expect((await h.runtime.store.get(grant.id))?.expiresAt).toBe(base + HOUR);
    expect(await actions(h, grant.id)).toContain('replayed-extension');

    // With `extensions` cleared the bot sees room for another hour and claims it (sealed, a new id): the
    // worker's cap comes from the sealed activation record, so it moves nothing either.
    const now = (await h.runtime.store.get(grant.id)) as Grant;
    await overwrite(h, { ...now, extensions: [] });
    const fresh = await requestExtension(deps, grant.id, frank.slackUserId, '1h');
    expect(fresh.kind).toBe('applying');
    const dropped = await settled(h, grant.id, (g) => (g.extensionsApplying ?? []).length === 0);
    expect(dropped.expiresAt).toBe(base + HOUR);
    expect(await bindingExpiry(grant.id)).toBe(capped);
    expect(await trustEnd(h, role)).toBe(capped);
    await h.notifier.announced(grant.id, 'extension-failed');
    const failure = (await h.runtime.audit.read({ grantId: grant.id })).find(
      (e) => e.action === 'extension-failed',
    );
    expect(failure?.details?.['reason']).toMatch(/the latest view allows/);
    expect(h.notifier.kinds(grant.id).filter((k) => k === 'extended')).toHaveLength(1);
  });
});

const settled = (harness: Harness, grantId: string, done: (g: Grant) => boolean) =>
  pollUntil(
    `grant ${grantId} settled`,
    () => harness.runtime.store.get(grantId),
    (g) => g !== undefined && done(g),
    { timeoutMs: 30_000, intervalMs: 50 },
  ) as Promise<Grant>;

describe('a retry after a crash mid-activation', () => {
  it('still activates, with the expiry the ledger recorded before the first write', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    const dying = await workerDyingAfter(h, 'identity', { lockDuration: 2_000 });
    const gina = await h.person();
    const grant = await h.approve(gina, { level: 'view', durationSeconds: 3600 });
    await dying.die();
    const recorded = JSON.parse((await h.runtime.archive.get(`ledger/${grant.id}/activation`)) ?? '{}');
    expect(recorded.expiresAt).toBeGreaterThan(Date.now());
    expect(await bindingExpiry(grant.id)).toBe(isoTime(recorded.expiresAt));

    await h.startWorker({ lockDuration: 2_000, reconcileEveryMs: 3_600_000 });
    const active = await h.waitFor(grant.id, ['active', 'failed'], 60_000);
    expect(active.status).toBe('active');
    expect(active.expiresAt).toBe(recorded.expiresAt);
    expect(await bindingExpiry(grant.id)).toBe(isoTime(recorded.expiresAt));
    expect(await trustEnd(h, personalRoleName(h.cluster, gina.principalArn))).toBe(
      isoTime(recorded.expiresAt),
    );
    expect(await h.allowed(gina.username, 'list', 'pods', '', h.namespace)).toBe(true);
  });
});

describe('an expiry raised in Redis', () => {
  it('ends at the sealed RoleBinding expiry: the reconciler ends the grant and takes everything away', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const ivan = await h.person();
    const grant = await h.approve(ivan, { level: 'view', durationSeconds: 3 });
    const active = await h.waitFor(grant.id, ['active']);
    const sealedEnd = active.expiresAt as number;
    // Ten hours more in Redis: the revoke job at the sealed end now finds the grant "not due".
    await overwrite(h, { ...active, expiresAt: sealedEnd + 10 * HOUR });
    await pollUntil(
      'the sealed end to pass',
      async () => Date.now(),
      (now) => now > sealedEnd,
      {
        timeoutMs: 10_000,
        intervalMs: 100,
      },
    );
    const report = await reconcile(h.deps);
    expect(report.grantsEnded).toContain(grant.id);
    const ended = await h.waitFor(grant.id, ['expired'], 15_000);
    expect(ended.endReason).toBe('expired');
    await noAccess(h, grant.id, ivan);
  });
});

describe('grants live at the upgrade (v1 decision seals, no ledger entry)', () => {
  it('an approved one still activates; an active one still extends once, capped from its sealed binding', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    const harness = h;
    const [judy, kim] = [await h.person(), await h.person()];
    // Kim's grant was activated before the upgrade, by a worker without the ledger (another archive prefix).
    const before = v1Approved(harness, kim);
    await h.runtime.store.create(before);
    const preUpgrade = requireArchive(
      { ...h.runtime.env, ARCHIVE_PREFIX: `${uniqueName('pre-upgrade')}/` },
      awsClientConfig('iam').credentials,
    );
    // (Today's activation in a throwaway ledger stands in for the old worker's, which had none.)
    const oldWorker = { ...h.deps, archive: preUpgrade };
    await markUpgrade(oldWorker);
    const activated = await activateGrant(oldWorker, before.id);
    expect(activated.status).toBe('active');
    const end = activated.expiresAt as number;
    expect(await h.runtime.archive.get(`ledger/${before.id}/activation`)).toBeUndefined();

    // The upgraded worker starts: Judy's approval from just before the upgrade is still activated.
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const waiting = v1Approved(harness, judy);
    await h.runtime.store.create(waiting);
    await h.runtime.scheduler.enqueueActivation(waiting.id);
    expect((await h.waitFor(waiting.id, ['active', 'failed'])).status).toBe('active');

    // Kim extends by the hour the level allows: applied, and the ledger now holds her activation,
    // written from the sealed binding.
    expect((await requestExtension(flowDeps(h), before.id, kim.slackUserId, '1h')).kind).toBe('applying');
    const extended = await settled(h, before.id, (g) => g.extensions.length === 1);
    expect(extended.expiresAt).toBe(end + HOUR);
    expect(await bindingExpiry(before.id)).toBe(isoTime(end + HOUR));
    const legacy = JSON.parse((await h.runtime.archive.get(`ledger/${before.id}/activation`)) ?? '{}');
    expect(legacy).toMatchObject({ legacy: true, expiresAt: end });

    // From then on the cap is fixed: with `extensions` cleared, another hour the bot allows moves nothing.
    await overwrite(h, { ...extended, extensions: [] });
    expect((await requestExtension(flowDeps(h), before.id, kim.slackUserId, '1h')).kind).toBe('applying');
    const capped = await settled(h, before.id, (g) => (g.extensionsApplying ?? []).length === 0);
    expect(capped.expiresAt).toBe(end + HOUR);
    expect(await bindingExpiry(before.id)).toBe(isoTime(end + HOUR));
  });

  it('a v1 approval without a window is refused once the upgrade is over an hour old', async () => {
    h = await engineHarness('aws-auth', { view: VIEW });
    // The first worker of this version started two hours ago (its marker is written once, then kept).
    await markUpgrade({ ...h.deps, clock: { now: () => Date.now() - 2 * HOUR } });
    await h.startWorker({ reconcileEveryMs: 3_600_000 });
    const mia = await h.person();
    const v1 = v1Approved(h, mia);
    await h.runtime.store.create(v1);
    await h.runtime.scheduler.enqueueActivation(v1.id);
    const failed = await refused(h, v1.id);
    expect(failed.failure?.reason).toMatch(/its approval had to be used by/);
    await noAccess(h, v1.id, mia);
  });
});
