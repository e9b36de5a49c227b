// aws-auth on real servers: the entry is path-less (what a session canonicalises to), the reconciler
// migrates entries of ours written with the path, activation refuses a mapping the authenticator
// would resolve to someone else, and a JSON mapRoles comes back byte for byte after the grant.
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { personalRoleFor } from '../../src/domain/plan.js';
import { reconcile } from '../../src/engine/reconcile.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { engineHarness, type Harness, ORIGINAL_AWS_AUTH, readAwsAuth } from './engine-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const setMapRoles = (harness: Harness, mapRoles: string) =>
  harness.core.replaceNamespacedConfigMap({
    ...harness.awsAuth,
    body: {
      metadata: { name: harness.awsAuth.name, namespace: harness.awsAuth.namespace },
      data: { ...ORIGINAL_AWS_AUTH, mapRoles },
    },
  });

const roleOf = (harness: Harness, person: { principalArn: string; username: string }) =>
  personalRoleFor(harness.deps.policy, { cluster: harness.cluster, ...person, expiresAt: 0 });

describe('aws-auth entries the authenticator matches', () => {
  it('an entry of ours written with the path is rewritten path-less by the reconciler, audited; foreign entries keep their bytes', async () => {
    h = await engineHarness('aws-auth');
    await h.startWorker();
    const alice = await h.person();
    const grant = await h.waitFor((await h.approve(alice, { durationSeconds: 3600 })).id, ['active']);
    const role = roleOf(h, alice);
    const pathless = `arn:aws:iam::123456789012:role/${role.name}`;
    const written = (await readAwsAuth(h))['mapRoles'] ?? '';
    expect(written).toContain(`rolearn: ${pathless}\n`);
    expect(role.arn).not.toBe(pathless);

    // What an older eks-access wrote: the full ARN, which no session ever matches.
    const old = written.replace(`rolearn: ${pathless}`, `rolearn: ${role.arn}`);
    await setMapRoles(h, old);
    const dry = await reconcile(h.deps, { dryRun: true });
    expect(dry.mappingsMigrated).toEqual([{ cluster: h.cluster, roleArn: role.arn, grantId: grant.id }]);
    expect((await readAwsAuth(h))['mapRoles']).toBe(old);

    const report = await reconcile(h.deps);
    expect(report.errors).toEqual([]);
    expect(report.mappingsMigrated).toHaveLength(1);
    expect(report.mappingsRemoved).toEqual([]);
    const migrated = (await readAwsAuth(h))['mapRoles'] ?? '';
    expect(migrated.startsWith(ORIGINAL_AWS_AUTH['mapRoles'] ?? '')).toBe(true);
    const entries = parse(migrated) as { rolearn: string; username: string }[];
    expect(entries.filter((e) => e.rolearn.endsWith(role.name))).toEqual([
      { rolearn: pathless, username: alice.username, groups: [] },
    ]);
    const audit = await h.deps.audit.read({ grantId: grant.id });
    expect(audit.filter((e) => e.action === 'mapping-migrated').map((e) => e.details?.['from'])).toEqual([
      role.arn,
    ]);
    // Nothing left to migrate.
    expect((await reconcile(h.deps)).mappingsMigrated).toEqual([]);

    await endGrant(h.deps, grant.id, 'revoked', 'U0APPROVER');
    await h.waitFor(grant.id, ['revoked']);
    expect(await readAwsAuth(h)).toEqual(ORIGINAL_AWS_AUTH);
  }, 60_000);

  it('activation fails when the authenticator would resolve the role to another entry; that entry is left alone', async () => {
    h = await engineHarness('aws-auth');
    const alice = await h.person();
    const role = roleOf(h, alice);
    // Someone maps the role after our write (later entries win in the authenticator).
    const foreign = `- rolearn: arn:aws:iam::123456789012:role/${role.name.toUpperCase()}\n  username: admin\n  groups: [system:masters]\n`;
    await h.startWorker({
      afterStep: async (step) => {
        if (step !== 'identity') return;
        const current = (await readAwsAuth(h as Harness))['mapRoles'] ?? '';
        if (!current.includes('username: admin')) await setMapRoles(h as Harness, current + foreign);
      },
    });
    const grant = await h.approve(alice, { durationSeconds: 3600 });
    const failed = await h.waitFor(grant.id, ['failed', 'active']);
    expect(failed.status).toBe('failed');
    expect(failed.failure?.reason).toContain(
      `A session of the personal role would not log in as intended: the aws-auth entry for arn:aws:iam::123456789012:role/${role.name} maps to "admin"`,
    );
    // Our entry is gone again; the foreign one is exactly as it was written.
    expect((await readAwsAuth(h))['mapRoles']).toBe(`${ORIGINAL_AWS_AUTH['mapRoles']}${foreign}`);
  }, 60_000);

  it('a mapRoles written as JSON takes a JSON entry and is byte-identical after the grant', async () => {
    h = await engineHarness('aws-auth');
    const json = `[\n  {"rolearn": "arn:aws:iam::123456789012:role/node", "username": "system:node:{{EC2PrivateDNSName}}", "groups": ["system:nodes"]}\n]`;
    await setMapRoles(h, json);
    await h.startWorker();
    const alice = await h.person();
    const grant = await h.waitFor((await h.approve(alice, { durationSeconds: 3600 })).id, ['active']);
    const during = (await readAwsAuth(h))['mapRoles'] ?? '';
    expect(JSON.parse(during)).toEqual([
      ...JSON.parse(json),
      {
        rolearn: `arn:aws:iam::123456789012:role/${roleOf(h, alice).name}`,
        username: alice.username,
        groups: [],
      },
    ]);
    await endGrant(h.deps, grant.id, 'revoked', 'U0APPROVER');
    await h.waitFor(grant.id, ['revoked']);
    expect((await readAwsAuth(h))['mapRoles']).toBe(json);
  }, 60_000);
});
