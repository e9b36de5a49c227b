// A look-alike RoleBinding copied from a real grant (its labels, annotations and even its seal) but binding
// someone else to a stronger role is reported by what it really grants: its subjects, its roleRef and
// that role's rules, read from the real apiserver. What it claims (the victim's username and grant id)
// is kept apart as claims, and the report is not filed under the victim's grant.
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ANNOTATIONS, LABELS, MANAGED_BY, MANAGED_BY_LABEL } from '../../src/domain/names.js';
import { FORGED_EVENT_VERSION } from '../../src/engine/forged.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { adminKubeConfig, uniqueName } from '../platform/context.js';
import { engineHarness, type Harness } from './engine-harness.js';

const RBAC = 'rbac.authorization.k8s.io';
const rbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
const core = () => adminKubeConfig().makeApiClient(CoreV1Api);

let h: Harness | undefined;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0)) await clean().catch(() => undefined);
  await h?.close();
  h = undefined;
});

describe('a reported look-alike', () => {
  it('names its real subjects, roleRef and rules, not the grant and person it copies', async () => {
    h = await engineHarness('none');
    const harness = h;
    await harness.startWorker({ reconcileEveryMs: 3_600_000 });
    const alice = await harness.person();
    const grant = await harness.waitFor((await harness.approve(alice)).id, ['active']);
    const [real] = (
      await rbac().listRoleBindingForAllNamespaces({ labelSelector: `${LABELS.grantId}=${grant.id}` })
    ).items;
    if (!real?.metadata) throw new Error('no RoleBinding for the grant');

    // Someone who may write RoleBindings elsewhere copies Alice's binding, seal and all, into another
    // namespace, binding mallory to a ClusterRole that reads secrets.
    const secrets = uniqueName('forge-secrets');
    await rbac().createClusterRole({
      body: {
        metadata: { name: secrets },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }],
      },
    });
    cleanups.push(() => rbac().deleteClusterRole({ name: secrets }));
    const elsewhere = uniqueName('forge-ns');
    await core().createNamespace({ body: { metadata: { name: elsewhere } } });
    cleanups.push(() => core().deleteNamespace({ name: elsewhere }));
    await rbac().createNamespacedRoleBinding({
      namespace: elsewhere,
      body: {
        metadata: {
          name: real.metadata.name as string,
          labels: { ...real.metadata.labels, [MANAGED_BY_LABEL]: MANAGED_BY },
          annotations: { ...real.metadata.annotations },
        },
        subjects: [{ kind: 'User', apiGroup: RBAC, name: 'mallory' }],
        roleRef: { apiGroup: RBAC, kind: 'ClusterRole', name: secrets },
      },
    });

    const report = await reconcile(harness.deps);
    const finding = report.forgedBindings.find((f) => f.namespace === elsewhere);
    expect(finding?.actual).toEqual({ subjects: ['User:mallory'], roleRef: `ClusterRole/${secrets}` });
    const events = (await harness.runtime.audit.read({})).filter(
      (e) => e.action === 'forged-binding' && e.details?.['namespace'] === elsewhere,
    );
    expect(events).toHaveLength(1);
    expect(events[0]?.grantId).toBe('');
    expect(events[0]?.details).toMatchObject({
      v: FORGED_EVENT_VERSION,
      verdict: 'mismatch',
      subjects: 'User:mallory',
      roleRef: `ClusterRole/${secrets}`,
      rules: 'get,list secrets',
      claimedGrantId: grant.id,
      claimedUsername: real.metadata.annotations?.[ANNOTATIONS.username],
    });
    // Alice's own trail says nothing of it.
    expect((await harness.runtime.audit.read({ grantId: grant.id })).map((e) => e.action)).not.toContain(
      'forged-binding',
    );
  });
});
