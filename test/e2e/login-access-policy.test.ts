// An EKS access-policy level, lived by the requester (issue #23's "done when"): the cluster's connection
// carries no Kubernetes credentials for the worker, the level is AmazonEKSEditPolicy, and the grant is an
// access entry with the policy associated for the grant's namespace only. The requester runs the DM's
// commands verbatim; her kubectl creates a configmap in the namespace (EKS's authorizer, here the
// platform's access-policy webhook, allows it: no RoleBinding exists), is Forbidden in another namespace,
// and Unauthorized after expiry. The apiserver's audit log shows the worker never made a Kubernetes
// request as anyone but the person, through its login probe.
import { readFile } from 'node:fs/promises';
import {
  DescribeAccessEntryCommand,
  EKSClient,
  ListAssociatedAccessPoliciesCommand,
  ListTagsForResourceCommand,
  TagResourceCommand,
} from '@aws-sdk/client-eks';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { PROBE_SESSION_NAME } from '../../src/domain/login-probe.js';
import { renderUsername } from '../../src/domain/names.js';
import { adminKubeConfig, awsClientConfig, platform } from '../platform/context.js';
import { pollUntil } from '../support/poll.js';
import { succeeded } from '../support/requester-shell.js';
import { ALICE, harnessPool } from './harness.js';
import {
  activationDmCommands,
  approvedRequest,
  kubectlOf,
  requesterShell,
  runDmCommands,
  untilLoginRefused,
} from './login-steps.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

interface AuditEvent {
  requestReceivedTimestamp: string;
  verb: string;
  user: { username: string; extra?: Record<string, string[]> };
  objectRef?: { namespace?: string; resource?: string };
  responseStatus?: { code?: number };
}

/** The apiserver's audit events received since `since` (epoch ms). */
async function auditSince(since: number): Promise<AuditEvent[]> {
  const lines = (await readFile(platform().kube.auditLog, 'utf8')).split('\n').filter(Boolean);
  return lines
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => Date.parse(e.requestReceivedTimestamp) >= since);
}

describe('an EKS access-policy level on a cluster where the worker holds no Kubernetes credentials', () => {
  it('AmazonEKSEditPolicy: a configmap in the namespace, Forbidden elsewhere, Unauthorized after expiry; the worker only ever logged in as the person', async () => {
    const started = Date.now() - 1_000;
    const h = await pool.use({
      login: true,
      identityMapping: 'access-entries',
      accessPolicy: 'AmazonEKSEditPolicy',
      createNamespace: true,
      worker: true,
      levelDuration: { default: '90s', max: '4m' },
      expiryWarning: '30s',
    });
    const username = renderUsername(h.policy.settings.kubernetesUsername, {
      principalArn: h.aliceArn,
      slackUserId: ALICE,
    });
    const shell = await requesterShell(h);
    const id = await approvedRequest(h, `request ${h.namespace} for 90s because INC-23 edit through EKS`);
    const commands = await activationDmCommands(h);
    const outputs = await runDmCommands(shell, commands);
    const roleName = (/--role-arn (\S+)/.exec(commands[0] ?? '')?.[1] ?? '').split('/').pop();
    expect(outputs.at(-1)).toBe('yes');
    const kubectl = kubectlOf(shell, commands);

    // In the namespace: EKS's authorizer allows it; no RoleBinding of hers exists anywhere.
    succeeded(
      await kubectl(
        `create configmap made-by-alice -n ${h.namespace} --from-literal=via=AmazonEKSEditPolicy`,
      ),
      'kubectl create configmap in the granted namespace',
    );
    const rbac = adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);
    const bindings = await rbac.listRoleBindingForAllNamespaces();
    expect(bindings.items.filter((b) => b.subjects?.some((s) => s.name === username))).toEqual([]);
    // Elsewhere: Forbidden, by RBAC, since the policy is scoped to her grant's namespace.
    const elsewhere = await kubectl('create configmap not-here -n default --from-literal=a=b');
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toMatch(/forbidden/i);
    expect(elsewhere.stderr).toContain(`User "${username}" cannot create resource "configmaps"`);

    // Expiry: the association and the entry go; the same kubeconfig is refused.
    await pollUntil(
      `grant ${id} to expire`,
      () => h.store.get(id),
      (g) => g?.status === 'expired',
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    await untilLoginRefused(kubectl, h.namespace, 'her kubeconfig to be refused after expiry');

    // The worker's Kubernetes requests, from the apiserver's audit log and the authenticator's: only as her,
    // through the probe's session. Its connection has no credentials, so anything it sent on its own
    // would be anonymous; a token of its own IAM user would reach the authenticator, which logs its ARN.
    const events = await auditSince(started);
    expect(events.filter((e) => e.user.username === 'system:anonymous')).toEqual([]);
    const hers = events.filter((e) => e.user.username === username);
    const probe = hers.filter((e) => e.user.extra?.['sessionName']?.includes(PROBE_SESSION_NAME));
    expect(probe.length).toBeGreaterThan(0);
    // Other test files share this apiserver, so the window holds their requests too. What is this test's:
    // every request into her namespace is hers from kubectl, the controller-manager's, or a token refused
    // before authentication (hers, before the entry propagated and after expiry): never an identity of the
    // worker's. And no request anywhere was authenticated as the worker's IAM identity.
    for (const e of events.filter((event) => event.objectRef?.namespace === h.namespace)) {
      if (e.user.username) expect([username, 'system:kube-controller-manager']).toContain(e.user.username);
      else expect(e.responseStatus?.code).toBe(401);
    }
    expect(h.workerArn).toBeDefined();
    const asWorker = events.filter((e) => JSON.stringify(e.user).includes(h.workerArn ?? '-'));
    expect(asWorker).toEqual([]);
    const authenticatorLog = await readFile(platform().login.authenticatorLog, 'utf8');
    expect(authenticatorLog).not.toContain(h.workerArn);
    expect(authenticatorLog).toContain(`assumed-role/${roleName}/${PROBE_SESSION_NAME}`);
  }, 360_000);

  it('two grants in two namespaces share one association; ending one keeps the other, and a replayed tag of the ended one revives nothing', async () => {
    const h = await pool.use({
      login: true,
      identityMapping: 'access-entries',
      accessPolicy: 'AmazonEKSEditPolicy',
      createNamespace: true,
      extraNamespaces: 1,
      worker: true,
    });
    const second = `${h.namespace}-n000`;
    const core = adminKubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: second } } });
    try {
      const shell = await requesterShell(h);
      const granted = async (namespace: string) => {
        const id = await approvedRequest(h, `request ${namespace} for 1h because INC-23 two namespaces`);
        await pollUntil(
          `grant ${id} active`,
          () => h.store.get(id),
          (g) => g?.status === 'active',
          {
            timeoutMs: 150_000,
          },
        );
        return id;
      };
      const first = await granted(h.namespace);
      const commands = await activationDmCommands(h);
      await runDmCommands(shell, commands);
      const kubectl = kubectlOf(shell, commands);
      const other = await granted(second);

      const { clusterName } = platform().login;
      const roleArn = /--role-arn (\S+)/.exec(commands[0] ?? '')?.[1] ?? '';
      const eks = new EKSClient(awsClientConfig('eks'));
      const scope = async () =>
        (
          await eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn: roleArn }))
        ).associatedAccessPolicies?.map((p) => ({ policy: p.policyArn, ...p.accessScope }));
      const edit = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';
      try {
        // One association, both namespaces.
        expect(await scope()).toEqual([
          { policy: edit, type: 'namespace', namespaces: [h.namespace, second].sort() },
        ]);
        for (const ns of [h.namespace, second])
          succeeded(await kubectl(`create configmap both -n ${ns} --from-literal=a=b`), `create in ${ns}`);
        // The tag the first grant left, as anyone who can read the entry may keep it.
        const entryArn = (
          await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn: roleArn }))
        ).accessEntry?.accessEntryArn as string;
        const tags = (await eks.send(new ListTagsForResourceCommand({ resourceArn: entryArn }))).tags ?? {};
        const firstTag = `eks-access:grant:${first}`;
        expect(tags[firstTag]).toBeDefined();

        // She gives the first back: its namespace goes, the other stays, the same kubeconfig still works there.
        await h.command(ALICE, `done ${first}`);
        await pollUntil(
          `grant ${first} to end`,
          () => h.store.get(first),
          (g) => g?.status === 'relinquished',
          {
            timeoutMs: 60_000,
          },
        );
        expect(await scope()).toEqual([{ policy: edit, type: 'namespace', namespaces: [second] }]);
        await pollUntil(
          `configmaps in ${h.namespace} to be forbidden`,
          () => kubectl(`create configmap after -n ${h.namespace} --from-literal=a=b`),
          (run) => run.code !== 0 && /forbidden/i.test(run.stderr),
          { timeoutMs: 20_000, intervalMs: 0 },
        );
        succeeded(
          await kubectl(`create configmap still -n ${second} --from-literal=a=b`),
          `create in ${second}`,
        );

        // Someone with eks:TagResource puts the first grant's sealed tag back: it revives nothing, and
        // when the second grant ends the entry goes all the same (the first grant is ended in Redis).
        await eks.send(
          new TagResourceCommand({ resourceArn: entryArn, tags: { [firstTag]: tags[firstTag] as string } }),
        );
        await h.command(ALICE, `done ${other}`);
        await pollUntil(
          `grant ${other} to end`,
          () => h.store.get(other),
          (g) => g?.status === 'relinquished',
          {
            timeoutMs: 90_000,
          },
        );
        await untilLoginRefused(kubectl, second, 'her kubeconfig to be refused once both grants ended');
        await expect(
          eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn: roleArn })),
        ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
      } finally {
        eks.destroy();
      }
    } finally {
      await core.deleteNamespace({ name: second }).catch(() => undefined);
    }
  }, 360_000);
});
