// The runbook end to end on real servers: one person, namespace test-<unique>, the k8s-test-role
// level, a 3-second grant. After activation the API server allows what the runbook promises; shortly
// after expiry every trace is gone — in aws-auth, access-entries and none mode.
import { ListAccessEntriesCommand } from '@aws-sdk/client-eks';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { personalRoleName, roleBindingName } from '../../src/domain/names.js';
import { adminKubeConfig } from '../platform/context.js';
import {
  engineHarness,
  eventually,
  type Harness,
  type Mode,
  ORIGINAL_AWS_AUTH,
  ORIGINAL_MAP_ROLES,
  readAwsAuth,
} from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const rbac = () => adminKubeConfig().makeApiClient(RbacAuthorizationV1Api);

describe.each<Mode>(['aws-auth', 'access-entries', 'none'])('the runbook in %s mode', (mode) => {
  it('grants exactly the level, maps only this person, and takes it all back after expiry', async () => {
    h = await engineHarness(mode);
    await h.startWorker();
    const alice = await h.person();
    const started = Date.now();
    // Long enough for every check below to run while the access is live, on a loaded machine too
    // (a dozen calls to the apiserver, IAM and EKS); the test then waits for the expiry.
    const approved = await h.approve(alice, { durationSeconds: 6 });
    const active = await h.waitFor(approved.id, ['active', 'failed']);
    expect(active.failure).toBeUndefined();
    expect(active.status).toBe('active');
    const activationMs = Date.now() - started;
    expect(active.expiresAt).toBe((active.activatedAt as number) + 6000);
    // One create per AWS object: the second pass (when the clock starts) only renews the trust.
    expect(h.called('CreateRoleCommand')).toBe(mode === 'none' ? 0 : 1);
    expect(h.called('CreateAccessEntryCommand')).toBe(mode === 'access-entries' ? 1 : 0);

    // Kubernetes: the runbook's test, for this person's own username.
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(true);
    expect(await h.allowed(alice.username, 'list', 'pods', '', h.namespace)).toBe(true);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', 'default')).toBe(false);
    const binding = await rbac().readNamespacedRoleBinding({
      name: roleBindingName(active.id),
      namespace: h.namespace,
    });
    expect(binding.subjects).toEqual([
      { kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: alice.username },
    ]);
    expect(binding.metadata?.annotations?.['eks-access.io/expires-at']).toBe(
      new Date(active.expiresAt as number).toISOString(),
    );

    const roleName = personalRoleName(h.cluster, alice.principalArn);
    if (mode === 'none') {
      expect(await h.roleExists(roleName)).toBe(false);
    } else {
      // IAM: trust names only this person, until the expiry.
      const role = await h.iam.send(new GetRoleCommand({ RoleName: roleName }));
      expect(role.Role?.Path).toBe(`/eks-access/${h.cluster}/`);
      const trust = JSON.parse(decodeURIComponent(role.Role?.AssumeRolePolicyDocument ?? ''));
      expect(trust.Statement).toHaveLength(1);
      expect(trust.Statement[0].Principal).toEqual({ AWS: alice.principalArn });
      expect(trust.Statement[0].Condition).toEqual({
        DateLessThan: { 'aws:CurrentTime': new Date(active.expiresAt as number).toISOString() },
      });
    }
    if (mode === 'aws-auth') {
      const data = await readAwsAuth(h);
      // Every pre-existing entry keeps its bytes: ours is appended after them.
      expect(data['mapRoles']?.startsWith(ORIGINAL_MAP_ROLES)).toBe(true);
      const entries = parse(data['mapRoles'] ?? '') as { rolearn: string; username: string }[];
      expect(entries.filter((e) => e.rolearn.includes(roleName))).toEqual([
        // Path-less: the only form the authenticator matches (a session's ARN never carries the path).
        expect.objectContaining({ rolearn: pathless_arn(roleName), username: alice.username }),
      ]);
      for (const key of ['mapUsers', 'mapAccounts', 'somethingElse'])
        expect(data[key]).toBe(ORIGINAL_AWS_AUTH[key]);
    }
    if (mode === 'access-entries') {
      const entries = await h.eks.send(new ListAccessEntriesCommand({ clusterName: h.cluster }));
      expect(entries.accessEntries).toContain(role_arn(h, roleName));
    }

    // Expiry: everything goes, and the API server agrees.
    const ended = await h.waitFor(active.id, ['expired']);
    expect(ended.endedAt).toBeGreaterThanOrEqual(active.expiresAt as number);
    expect(await h.allowed(alice.username, 'create', 'jobs', 'batch', h.namespace)).toBe(false);
    expect(await h.allowed(alice.username, 'list', 'pods', '', h.namespace)).toBe(false);
    await expect(
      rbac().readNamespacedRoleBinding({ name: roleBindingName(active.id), namespace: h.namespace }),
    ).rejects.toMatchObject({ code: 404 });
    // The kept Role is the platform team's (settings.keptRoles: applied-by-admin): it stays, unbound.
    const kept = await rbac().readNamespacedRole({
      name: 'eks-access-k8s-test-role',
      namespace: h.namespace,
    });
    expect(kept.metadata?.labels?.['app.kubernetes.io/component']).toBe('kept-role');
    expect(await h.roleExists(roleName)).toBe(false);
    if (mode === 'aws-auth') expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
    if (mode === 'access-entries') {
      await eventually('access entry removed', async () => {
        const entries = await h!.eks.send(new ListAccessEntriesCommand({ clusterName: h!.cluster }));
        return !(entries.accessEntries ?? []).includes(role_arn(h!, roleName));
      });
    }
    // expiryWarning is 1s in the test policy: the warning job fires 1s before the end.
    await h.notifier.announced(active.id, 'ended');
    expect(h.notifier.kinds(active.id)).toEqual(['activated', 'expiring-soon', 'ended']);
    const actions = (await h.runtime.audit.read({ grantId: active.id })).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['activated', 'expired']));
    console.log(
      `[${mode}] activation took ${activationMs} ms; expired→clean ${ended.endedAt! - active.expiresAt!} ms`,
    );
  });
});

const pathless_arn = (roleName: string) => `arn:aws:iam::123456789012:role/${roleName}`;
/** Access entries keep the role's full ARN, path included. */
const role_arn = (h: Harness, roleName: string) =>
  `arn:aws:iam::123456789012:role/eks-access/${h.cluster}/${roleName}`;
