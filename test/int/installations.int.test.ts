// Two eks-access installations on one cluster (a staging and a production bot; two teams' bots): each
// labels its RoleBindings with its policy's `settings.installation`, and its reconciler leaves the
// other's alone — no rebuilt record, no look-alike report — while a binding without the label (written
// before it existed) or with its own name is still judged as before. The label is not sealed, so it can
// only ever spare a binding from being *reported*: an expired binding our keys sealed goes whatever
// installation its label names.
import { RbacAuthorizationV1Api, type V1RoleBinding } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../src/domain/names.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { adminKubeConfig } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis.js';
import { engineHarness, type Harness } from './engine-harness.js';

const rbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
const opened: Harness[] = [];
let redis: PrivateRedis | undefined;

beforeAll(async () => {
  redis = await startPrivateRedis('installations');
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((h) => h.close()));
});
afterAll(async () => {
  await redis?.stop();
});

async function harness(options: Parameters<typeof engineHarness>[1] = {}): Promise<Harness> {
  const h = await engineHarness('none', options);
  opened.push(h);
  return h;
}

async function bindingOf(namespace: string, grantId: string): Promise<V1RoleBinding> {
  const [binding] = (
    await rbac().listNamespacedRoleBinding({ namespace, labelSelector: `${LABELS.grantId}=${grantId}` })
  ).items;
  if (!binding) throw new Error(`no RoleBinding of grant ${grantId} in ${namespace}`);
  return binding;
}

/** A copy of `binding` under another name, its labels changed by `relabel` (seal annotation kept). */
async function copyOf(
  binding: V1RoleBinding,
  suffix: string,
  relabel: (labels: Record<string, string>) => void,
): Promise<string> {
  const labels = { ...binding.metadata?.labels };
  relabel(labels);
  const name = `${binding.metadata?.name}-${suffix}`;
  await rbac().createNamespacedRoleBinding({
    namespace: binding.metadata?.namespace as string,
    body: {
      metadata: { name, labels, annotations: { ...binding.metadata?.annotations } },
      roleRef: binding.roleRef,
      subjects: binding.subjects ?? [],
    },
  });
  return name;
}

describe('installations sharing a cluster', () => {
  it("leave each other's grants alone: not rebuilt, not reported as look-alikes", async () => {
    const staging = await harness();
    const production = await harness();
    expect(staging.deps.policy.settings.installation).not.toBe(production.deps.policy.settings.installation);
    await staging.startWorker();
    const person = await staging.person();
    const grant = await staging.waitFor((await staging.approve(person)).id, ['active']);
    await staging.notifier.announced(grant.id, 'activated');
    const binding = await bindingOf(staging.namespace, grant.id);
    expect(binding.metadata?.labels?.[LABELS.installation]).toBe(staging.deps.policy.settings.installation);

    // Copies that do not verify for production (another cluster name in the seal): one naming
    // production's installation, one with no installation at all (as written before the label).
    const claimsProduction = await copyOf(binding, 'prod', (labels) => {
      labels[LABELS.installation] = production.deps.policy.settings.installation;
    });
    const unlabelled = await copyOf(binding, 'legacy', (labels) => {
      delete labels[LABELS.installation];
    });

    const report = await reconcile(production.deps);
    const inStaging = (entries: { namespace?: string; name?: string }[]) =>
      entries.filter((e) => e.namespace === staging.namespace).map((e) => e.name);
    // Staging's own binding is neither reported nor rebuilt into production's Redis…
    expect(inStaging(report.forgedBindings).sort()).toEqual([claimsProduction, unlabelled].sort());
    expect(report.grantsRebuilt.map((r) => r.grantId)).not.toContain(grant.id);
    expect(await production.runtime.store.get(grant.id)).toBeUndefined();
    // …and stays in force.
    expect(
      await staging.allowed(grant.requester.kubernetesUsername, 'list', 'pods', '', staging.namespace),
    ).toBe(true);
  });

  it('removes an expired binding its keys sealed, whatever installation its label names', async () => {
    const h = await harness({ redisUrl: (redis as PrivateRedis).url });
    const workers = await h.startWorker();
    const person = await h.person();
    const grant = await h.waitFor((await h.approve(person, { durationSeconds: 4 })).id, ['active']);
    await h.notifier.announced(grant.id, 'activated');
    // No revoke job will run, and Redis forgets the grant: only the reconciler's cluster sweep is left.
    await workers.close(true);
    const binding = await bindingOf(h.namespace, grant.id);
    const labels = { ...binding.metadata?.labels, [LABELS.installation]: 'someone-else' };
    await rbac().replaceNamespacedRoleBinding({
      name: binding.metadata?.name as string,
      namespace: h.namespace,
      body: { ...binding, metadata: { ...binding.metadata, labels } },
    });
    const admin = new Redis((redis as PrivateRedis).url);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    await pollUntil(
      'the grant past its sealed expiry',
      async () => h.runtime.clock.now(),
      (now) => now > (grant.expiresAt ?? 0),
      { timeoutMs: 10_000, intervalMs: 100 },
    );

    const report = await reconcile(h.deps);
    expect(report.bindingsRemoved.map((b) => b.grantId)).toContain(grant.id);
    expect(report.forgedBindings.filter((f) => f.grantId === grant.id)).toEqual([]);
    const left = await rbac().listNamespacedRoleBinding({
      namespace: h.namespace,
      labelSelector: `${LABELS.grantId}=${grant.id}`,
    });
    expect(left.items).toEqual([]);
    expect(await h.allowed(grant.requester.kubernetesUsername, 'list', 'pods', '', h.namespace)).toBe(false);
  });
});
