// Extensions on the real platform: the cap holds under real concurrency (Redis compare-and-set), an
// extension needs the request's quorum and only the ask its approver saw, the worker (never the bot)
// moves the expiry on the cluster, and an extension that cannot be applied is reported, not lost.
import { randomBytes } from 'node:crypto';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntime } from '../../src/bin/engine-runtime.js';
import type { FlowDeps } from '../../src/bot/deps.js';
import { approveExtension, requestExtension } from '../../src/bot/request-extension.js';
import { parseEnv } from '../../src/config/load.js';
import { isoTime } from '../../src/domain/clock.js';
import { type AccessError, toAccessError } from '../../src/domain/errors.js';
import type { Grant } from '../../src/domain/grant.js';
import { roleBindingName } from '../../src/domain/names.js';
import { extensionLockKey } from '../../src/engine/extend-grant.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { adminKubeConfig, platform, uniqueName } from '../platform/context.js';
import { archiveEnv } from '../support/archive.js';
import { pollUntil } from '../support/poll.js';
import { TEST_SEAL_KEYS } from '../support/seal.js';
import { engineHarness, flowDeps, type Harness } from './engine-harness.js';

const HOUR = 3_600_000;

async function bindingExpiry(h: Harness, grantId: string): Promise<string | undefined> {
  const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
  const binding = await rbac.readNamespacedRoleBinding({
    name: roleBindingName(grantId),
    namespace: h.namespace,
  });
  return binding.metadata?.annotations?.['eks-access.io/expires-at'];
}

const settled = (h: Harness, grantId: string, extensions: number) =>
  pollUntil(
    `grant ${grantId} to carry ${extensions} applied extensions and none waiting to be applied`,
    () => h.runtime.store.get(grantId),
    (g) => g?.extensions.length === extensions && (g.extensionsApplying ?? []).length === 0,
    { timeoutMs: 30_000, intervalMs: 50 },
  ) as Promise<Grant>;

describe('extensions within the cap (auto)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await engineHarness('none', {
      view: '{ clusterRole: view, defaultDuration: 1h, maxDuration: 1h, extend: { mode: auto, maxTotal: 3h } }',
    });
    await h.startWorker();
  });
  afterAll(() => h?.close());

  it('five concurrent extends never exceed maxTotal; the worker moves the RoleBinding to the recorded expiry', async () => {
    const person = await h.person();
    const grant = await h.approve(person, { level: 'view', durationSeconds: 3600 });
    const active = await h.waitFor(grant.id, ['active']);
    const deps = flowDeps(h);

    const outcomes = await Promise.allSettled(
      Array.from({ length: 5 }, () => requestExtension(deps, grant.id, person.slackUserId, '1h')),
    );
    const applied = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes
      .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
      .map((o) => toAccessError(o.reason) as AccessError);
    // 1h granted, 3h allowed: exactly two more hours, whichever two asks win.
    expect(applied).toHaveLength(2);
    expect(refused.map((e) => e.kind)).toEqual(['bad_input', 'bad_input', 'bad_input']);
    expect(refused[0]?.hint).toContain('allows 3h');

    const done = await settled(h, grant.id, 2);
    expect(done.expiresAt).toBe((active.expiresAt as number) + 2 * HOUR);
    expect(done.durationSeconds + done.extensions.reduce((s, e) => s + e.seconds, 0)).toBe(3 * 3600);
    expect(await bindingExpiry(h, grant.id)).toBe(isoTime(done.expiresAt as number));
    // And a sixth, later, is refused too: the cap counts what was applied.
    await expect(requestExtension(deps, grant.id, person.slackUserId, '1m')).rejects.toMatchObject({
      kind: 'bad_input',
    });
    await h.notifier.announced(grant.id, 'extended', 2);
    expect(h.notifier.kinds(grant.id).filter((k) => k === 'extended')).toHaveLength(2);
  });

  it('a claimed extension whose grant ended before the worker applied it is dropped and reported, not lost', async () => {
    const person = await h.person();
    const grant = await h.approve(person, { level: 'view', durationSeconds: 3600 });
    await h.waitFor(grant.id, ['active']);
    const deps = flowDeps(h);
    // Holding the extend lock keeps the worker's job waiting while the grant is revoked under it.
    await h.runtime.locks.withLock(
      extensionLockKey(grant.id),
      async () => {
        const outcome = await requestExtension(deps, grant.id, person.slackUserId, '30m');
        expect(outcome.kind).toBe('applying');
        await endGrant(h.runtime, grant.id, 'revoked', 'U0APPROVER');
        await h.waitFor(grant.id, ['revoked']);
      },
      { leaseMs: 60_000, waitMs: 10_000 },
    );
    const answered = await pollUntil(
      `the claim on ${grant.id} to be answered`,
      () => h.runtime.store.get(grant.id),
      (g) => g !== undefined && (g.extensionsApplying ?? []).length === 0,
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    expect(answered?.extensions).toEqual([]);
    await h.notifier.announced(grant.id, 'extension-failed');
    const failed = (await h.runtime.audit.read({ grantId: grant.id })).find(
      (e) => e.action === 'extension-failed',
    );
    expect(failed?.details).toMatchObject({ seconds: 1800, decidedBy: person.slackUserId });
    expect(h.notifier.kinds(grant.id)).toContain('extension-failed');
  });
});

describe('extensions that need approval', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await engineHarness('none', {
      view: '{ clusterRole: view, defaultDuration: 1h, maxDuration: 1h, approvals: 2, extend: { mode: approval, maxTotal: 4h } }',
    });
    await h.startWorker();
  });
  afterAll(() => h?.close());

  it('need the same quorum as the request, and an old button cannot approve a newer ask', async () => {
    const person = await h.person();
    const grant = await h.approve(person, { level: 'view', durationSeconds: 3600 });
    const active = await h.waitFor(grant.id, ['active']);
    const deps = flowDeps(h);

    const first = await requestExtension(deps, grant.id, person.slackUserId, '30m');
    expect(first.kind).toBe('waiting');
    const firstId = first.grant.extensionRequest?.id;
    expect(firstId).toMatch(/^x[a-z2-9]{6}$/);

    // One approval of two: recorded, nothing applied.
    const progress = await approveExtension(deps, grant.id, 'U0APPROVER', { id: firstId });
    expect(progress).toMatchObject({ kind: 'progress', approvals: 1, required: 2 });
    // The same approver again does not make two.
    await expect(approveExtension(deps, grant.id, 'U0APPROVER', { id: firstId })).rejects.toMatchObject({
      kind: 'forbidden',
    });
    expect((await h.runtime.store.get(grant.id))?.expiresAt).toBe(active.expiresAt);

    // The second completes the quorum: claimed, and the worker applies exactly 30m.
    const claimed = await approveExtension(deps, grant.id, 'U0SECOND', { id: firstId });
    expect(claimed.kind).toBe('applying');
    const once = await settled(h, grant.id, 1);
    expect(once.expiresAt).toBe((active.expiresAt as number) + 30 * 60_000);
    expect(await bindingExpiry(h, grant.id)).toBe(isoTime(once.expiresAt as number));

    // A new, larger ask: the first ask's button refuses it and names the new amount.
    const second = await requestExtension(deps, grant.id, person.slackUserId, '1h');
    const stale = approveExtension(deps, grant.id, 'U0APPROVER', { id: firstId });
    await expect(stale).rejects.toMatchObject({ kind: 'conflict' });
    await expect(stale).rejects.toThrow(/1h more is asked now|already approved/);
    expect((await h.runtime.store.get(grant.id))?.extensionRequest?.approvals ?? []).toEqual([]);
    expect(second.grant.extensionRequest?.id).not.toBe(firstId);
  });

  it('an extension approved by someone the policy no longer names is dropped and reported; the expiry stays', async () => {
    const person = await h.person();
    const grant = await h.approve(person, { level: 'view', durationSeconds: 3600 });
    const active = await h.waitFor(grant.id, ['active']);
    // The bot still runs the policy of yesterday, where U0FORMER approved for this namespace; the
    // worker has today's, without them.
    const yesterday = structuredClone(h.runtime.policy);
    yesterday.clusters[h.cluster]?.namespaces[0]?.approvers.users.push('U0FORMER');
    const bot = { ...flowDeps(h), policy: yesterday };

    const asked = await requestExtension(bot, grant.id, person.slackUserId, '30m');
    const id = asked.grant.extensionRequest?.id;
    await approveExtension(bot, grant.id, 'U0APPROVER', { id });
    expect((await approveExtension(bot, grant.id, 'U0FORMER', { id })).kind).toBe('applying');

    const answered = await settled(h, grant.id, 0);
    expect(answered.expiresAt).toBe(active.expiresAt);
    expect(await bindingExpiry(h, grant.id)).toBe(isoTime(active.expiresAt as number));
    await h.notifier.announced(grant.id, 'extension-failed');
    const failed = (await h.runtime.audit.read({ grantId: grant.id })).find(
      (e) => e.action === 'extension-failed',
    );
    expect(failed?.details?.['reason']).toContain(
      'the approval by <@U0FORMER> does not hold under the current policy',
    );
    expect(h.notifier.kinds(grant.id)).toContain('extension-failed');
    expect(h.notifier.kinds(grant.id)).not.toContain('extended');
  });
});

describe('the bot process', () => {
  it('is composed without cluster or IAM clients: it can only write Redis and queue jobs', async () => {
    const env = parseEnv({
      REDIS_URL: platform().redisUrl,
      LOG_LEVEL: 'silent',
      SEAL_KEYS: TEST_SEAL_KEYS,
      ...archiveEnv(platform().aws, uniqueName('extend')),
    });
    const bot = await createRuntime(env, { role: 'bot' });
    try {
      expect('clusters' in bot).toBe(false);
      expect('engineDeps' in bot).toBe(false);
      expect('engine' in bot).toBe(false);
    } finally {
      await bot.close();
    }
    const worker = await createRuntime(env, { role: 'worker' });
    try {
      expect('clusters' in worker).toBe(true);
    } finally {
      await worker.close();
    }
  });
});
