// Upgrades that keep live grants: for every committed fixture set (test/fixtures/persisted/<release>/,
// scripts/fixtures/capture.ts), the grant that release left live (its Redis records and jobs, its sealed
// RoleBinding, personal role and aws-auth entry, its audit events and ledger records) is put on the test
// platform as written, and the CURRENT worker revokes it on time. Names stay the fixture's; only the
// worker's injected clock is shifted, to a few seconds before the fixture's expiry, so nothing sealed is
// re-sealed. The worker seals with this run's key and verifies with the fixture's too (a key rotation).
// A future release's fixture set is picked up by the loop, without a change here.
import {
  CreateRoleCommand,
  CreateUserCommand,
  DeleteRoleCommand,
  GetRoleCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { CoreV1Api, RbacAuthorizationV1Api, type V1RoleBinding } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { PolicyIdentityResolver } from '../../src/adapters/identity/aws-identity.js';
import { parseMapRoles } from '../../src/adapters/k8s/aws-auth-document.js';
import { toManagedBinding } from '../../src/adapters/k8s/rbac.js';
import { grantJob, jobIdFor, QUEUES } from '../../src/adapters/queue/queues.js';
import { type RunningWorkers, startWorkers } from '../../src/adapters/queue/workers.js';
import { createRuntime, type Runtime } from '../../src/bin/engine-runtime.js';
import { parseEnv, parsePolicy } from '../../src/config/load.js';
import { parseRecord, verifyChains } from '../../src/domain/audit-record.js';
import { formatVersionOf, PERSISTED_FORMATS } from '../../src/domain/formats.js';
import { GRANT_ID, GRANT_STATUSES, type Grant } from '../../src/domain/grant.js';
import { ledgerKey, readRecord } from '../../src/domain/ledger.js';
import {
  parseSealKeys,
  type SealKeys,
  verifyDecisionSeal,
  verifyFoundBinding,
} from '../../src/domain/seal.js';
import type { Notifier } from '../../src/ports/notifier.js';
import { adminKubeConfig, awsClientConfig, platform, uniqueName } from '../platform/context.js';
import { archiveEnv } from '../support/archive.js';
import {
  type FixtureJob,
  type FixtureSet,
  fixturePolicy,
  fixtureSets,
  type RedisEntry,
} from '../support/persisted-fixtures.js';
import { pollUntil } from '../support/poll.js';
import { TEST_SEAL_KEYS } from '../support/seal.js';

const sets = fixtureSets();

it('fixture sets are committed', () => {
  expect(sets.length).toBeGreaterThan(0);
});

/** What a record must carry for the current code to end its grant (the current reader's schema). */
function expectReadableGrant(record: Grant, set: FixtureSet): void {
  const { names } = set.manifest;
  expect(formatVersionOf(record)).toBeLessThanOrEqual(PERSISTED_FORMATS['grant-record']);
  expect(record.id).toMatch(GRANT_ID);
  expect(GRANT_STATUSES).toContain(record.status);
  expect(record).toMatchObject({
    id: names.grantId,
    status: 'active',
    cluster: names.cluster,
    namespace: names.namespace,
    requester: {
      slackUserId: names.slackUserId,
      principalArn: names.principalArn,
      kubernetesUsername: names.kubernetesUsername,
    },
    expiresAt: set.manifest.expiresAt,
  });
  for (const key of ['version', 'durationSeconds', 'createdAt', 'activatedAt'] as const) {
    expect(typeof record[key], key).toBe('number');
  }
  expect(Array.isArray(record.extensions) && Array.isArray(record.approvals)).toBe(true);
}

describe.each(sets.map((set) => [set.manifest.release, set] as const))('fixtures of %s', (_release, set) => {
  const { manifest } = set;
  const { names } = manifest;
  const keys = parseSealKeys(manifest.sealKeys).keys as SealKeys;
  const redisEntries = set.json<RedisEntry[]>('redis.json');
  const grantEntry = redisEntries.find((e) => e.key === `grant:${names.grantId}`);
  const stored = JSON.parse(grantEntry?.type === 'string' ? grantEntry.value : '{}') as Grant;
  const binding = set.json<V1RoleBinding>('role-binding.json');

  it('every record, job, seal and event parses with the current code', () => {
    expect(Object.keys(manifest.formats)).toEqual(expect.arrayContaining(Object.keys(PERSISTED_FORMATS)));
    expectReadableGrant(stored, set);
    expect(verifyDecisionSeal(keys, stored, stored.decisionSeal)).toBe('valid');
    for (const index of [`status:${stored.status}`, `requester:${names.slackUserId}`]) {
      const entry = redisEntries.find((e) => e.key === index);
      const members = entry && 'members' in entry ? entry.members : [];
      expect(JSON.stringify(members), index).toContain(names.grantId);
    }
    for (const job of [
      ...set.json<FixtureJob[]>('jobs.json'),
      ...set.json<FixtureJob[]>('outbox-jobs.json'),
    ]) {
      const format = job.queue === 'slack-outbox' ? 'outbox-payload' : 'job-payload';
      expect(formatVersionOf(job.data), job.id).toBeLessThanOrEqual(PERSISTED_FORMATS[format]);
      expect(job.data['grantId'], job.id).toBe(names.grantId);
      expect(job.id, 'a BullMQ custom id has no ":"').not.toContain(':');
    }
    // The binding as the current adapter reads it: ours, this installation's, sealed with the fixture's key.
    const found = toManagedBinding(binding);
    expect(found).toMatchObject({ grantId: names.grantId, expiresAt: manifest.expiresAt });
    expect(found?.installation ?? names.installation).toBe(names.installation);
    expect(verifyFoundBinding(keys, names.cluster, found as NonNullable<typeof found>)).toBe('valid');
    const role = set.json<{ Path: string; RoleName: string; AssumeRolePolicyDocument: unknown }>(
      'iam-role.json',
    );
    expect(role).toMatchObject({ Path: names.rolePath, RoleName: names.roleName });
    expect(JSON.stringify(role.AssumeRolePolicyDocument)).toContain(names.principalArn);
    const mapRoles = set.json<{ mapRoles: string }>('aws-auth.json').mapRoles;
    expect(parseMapRoles(mapRoles, 'fixture').map((e) => e.username)).toContain(names.kubernetesUsername);
    const records = set
      .text('audit-records.jsonl')
      .split('\n')
      .filter((l) => l !== '')
      .map((line) => parseRecord(line));
    expect(records.every((r) => r !== undefined)).toBe(true);
    expect(
      verifyChains(records as NonNullable<(typeof records)[number]>[], { fromStart: true }).problems,
    ).toEqual([]);
    for (const entry of set.json<Record<string, string>[]>('audit-stream.json')) {
      expect(formatVersionOf({ v: Number(entry['v'] ?? 1) })).toBeLessThanOrEqual(
        PERSISTED_FORMATS['audit-stream-entry'],
      );
      expect(JSON.parse(entry['details'] ?? '{}')).toBeTypeOf('object');
    }
    const ledger = set.json<Record<string, string>>('ledger.json');
    const activation = ledger[ledgerKey.activation(names.grantId)] ?? '';
    expect(readRecord(keys, 'activation', names.grantId, activation)).toMatchObject({
      record: { expiresAt: manifest.expiresAt },
    });
  });

  describe('on the test platform', () => {
    const p = platform();
    const admin = adminKubeConfig();
    const core = admin.makeApiClient(CoreV1Api);
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const iam = new IAMClient(awsClientConfig('iam'));
    let runtime: Runtime | undefined;
    let workers: RunningWorkers | undefined;
    afterAll(async () => {
      await workers?.close(true);
      await runtime?.close();
    });

    it('the current worker revokes the grant on time, an old job and a current one in the same queue', async () => {
      expect(p.aws.accountId, 'the fixture names this account').toBe(names.accountId);
      // The world the fixture's release left: everything written as captured (leftovers of a failed run go first).
      await core.createNamespace({ body: { metadata: { name: names.namespace } } }).catch(() => undefined);
      await rbac
        .deleteNamespacedRoleBinding({ name: binding.metadata?.name ?? '', namespace: names.namespace })
        .catch(() => undefined);
      await rbac.createNamespacedRoleBinding({ namespace: names.namespace, body: binding });
      await core.deleteNamespacedConfigMap(names.awsAuth).catch(() => undefined);
      const awsAuthData = set.json<Record<string, string>>('aws-auth.json');
      await core.createNamespacedConfigMap({
        namespace: names.awsAuth.namespace,
        body: { metadata: { name: names.awsAuth.name }, data: awsAuthData },
      });
      await iam.send(new CreateUserCommand({ UserName: names.iamUser })).catch(() => undefined);
      await iam.send(new DeleteRoleCommand({ RoleName: names.roleName })).catch(() => undefined);
      const role = set.json<{
        AssumeRolePolicyDocument: unknown;
        Tags: { Key: string; Value: string }[];
        MaxSessionDuration: number;
      }>('iam-role.json');
      await iam.send(
        new CreateRoleCommand({
          RoleName: names.roleName,
          Path: names.rolePath,
          AssumeRolePolicyDocument: JSON.stringify(role.AssumeRolePolicyDocument),
          Tags: role.Tags,
          MaxSessionDuration: role.MaxSessionDuration,
        }),
      );

      // The current worker, its clock 4 s before the fixture's expiry.
      const offset = manifest.expiresAt - 4_000 - Date.now();
      const clock = { now: () => Date.now() + offset };
      const prefix = `{${uniqueName('upgrade')}}`;
      const loaded = parsePolicy(fixturePolicy(set, p.kube.adminKubeconfig), `fixture ${manifest.release}`);
      runtime = await createRuntime(
        parseEnv({
          REDIS_URL: p.redisUrl,
          REDIS_PREFIX: prefix,
          SEAL_KEYS: `${TEST_SEAL_KEYS},${manifest.sealKeys}`,
          ...archiveEnv(p.aws, prefix),
          LOG_LEVEL: 'silent',
          AWS_ENDPOINT_URL_IAM: p.aws.iamEndpoint,
          AWS_ENDPOINT_URL_STS: p.aws.stsEndpoint,
          AWS_ENDPOINT_URL_EKS: p.aws.eksEndpoint,
        }),
        {
          role: 'worker',
          loaded,
          clock,
          identity: new PolicyIdentityResolver({
            ...loaded.policy,
            identities: { ...loaded.policy.identities, map: { [names.slackUserId]: names.principalArn } },
          }),
          awsCredentials: awsClientConfig('iam').credentials,
          awsAuth: { [names.cluster]: names.awsAuth },
          auditLine: () => undefined,
        },
      );
      const rt = runtime;
      await loadRedis(rt, prefix, redisEntries);
      for (const fields of set.json<Record<string, string>[]>('audit-stream.json')) {
        await rt.redis.xadd(`${prefix}audit`, '*', ...Object.entries(fields).flat());
      }
      for (const [key, body] of Object.entries(set.json<Record<string, string>>('ledger.json'))) {
        await rt.archive.putOnce(key, body);
      }
      // The fixture's live jobs as its release queued them (due times on the shifted clock) and, in the
      // same revoke queue, one this release queues (a second moment, as after an extension was undone).
      for (const job of set.json<FixtureJob[]>('jobs.json').filter((j) => j.live)) {
        await rt.scheduler
          .queue(job.queue as (typeof QUEUES)[keyof typeof QUEUES])
          .add(job.name, job.data as never, {
            ...job.opts,
            jobId: job.id,
            delay: Math.max(0, job.at - clock.now()),
          });
      }
      const current = manifest.expiresAt + 1_000;
      await rt.scheduler.queue(QUEUES.revoke).add('revoke', grantJob(names.grantId), {
        jobId: jobIdFor('revoke', names.grantId, current),
        delay: current - clock.now(),
      });

      const announced: string[] = [];
      const notifier: Notifier = { grantChanged: async (_g, event) => void announced.push(event.kind) };
      const deps = rt.engineDeps(notifier);
      workers = await startWorkers(deps, {
        redis: rt.redis,
        prefix,
        scheduler: rt.scheduler,
        concurrency: 10,
        reconcileEveryMs: 60_000,
        epoch: rt.epoch,
      });

      const ended = (await pollUntil(
        `grant ${names.grantId} expired`,
        () => rt.store.get(names.grantId),
        (g) => g?.status === 'expired',
        { timeoutMs: 20_000, intervalMs: 50 },
      )) as Grant;
      // On time: not before the expiry the fixture sealed, and within seconds after it.
      expect(ended.endedAt).toBeGreaterThanOrEqual(manifest.expiresAt);
      expect((ended.endedAt ?? 0) - manifest.expiresAt).toBeLessThan(5_000);
      expect(ended.v).toBe(PERSISTED_FORMATS['grant-record']);

      // Every trace gone: RoleBinding, personal role, aws-auth entry (the platform team's entries kept).
      await expect(
        rbac.readNamespacedRoleBinding({ name: binding.metadata?.name ?? '', namespace: names.namespace }),
      ).rejects.toThrow();
      await expect(iam.send(new GetRoleCommand({ RoleName: names.roleName }))).rejects.toThrow(
        /not found|cannot be found/,
      );
      const mapRoles = (await core.readNamespacedConfigMap(names.awsAuth)).data?.['mapRoles'] ?? '';
      expect(mapRoles).not.toContain(names.roleName);
      const before = parseMapRoles(awsAuthData['mapRoles'] ?? '', 'fixture').filter(
        (e) => !e.roleArn.includes(names.roleName),
      );
      expect(parseMapRoles(mapRoles, 'now').map((e) => e.roleArn)).toEqual(before.map((e) => e.roleArn));

      // The audit trail: the fixture's events, then the end, as the current code reads them.
      const events = await pollUntil(
        'the end audited',
        () => rt.audit.read({ grantId: names.grantId }),
        (e) => e.some((x) => x.action === 'expired'),
      );
      expect(events.map((e) => e.action)).toEqual(expect.arrayContaining(['activated', 'expired']));
      expect(await rt.archive.get(ledgerKey.ended(names.grantId))).toBeDefined();
      await pollUntil(
        'ended announced',
        async () => announced,
        (a) => a.includes('ended'),
      );

      // Both revoke jobs, the fixture's and this release's, consumed; none failed.
      const counts = await pollUntil(
        'the revoke queue drained',
        () => rt.scheduler.queue(QUEUES.revoke).getJobCounts('waiting', 'delayed', 'active', 'failed'),
        (c) => (c['waiting'] ?? 0) + (c['delayed'] ?? 0) + (c['active'] ?? 0) === 0,
        { timeoutMs: 10_000 },
      );
      expect(counts['failed']).toBe(0);
    });
  });
});

async function loadRedis(rt: Runtime, prefix: string, entries: readonly RedisEntry[]): Promise<void> {
  for (const entry of entries) {
    const key = `${prefix}${entry.key}`;
    if (entry.type === 'string') await rt.redis.set(key, entry.value);
    else if (entry.type === 'set') await rt.redis.sadd(key, ...entry.members);
    else if (entry.type === 'hash') await rt.redis.hset(key, entry.fields);
    else if (entry.type === 'list') await rt.redis.rpush(key, ...entry.items);
    else for (const { member, score } of entry.members) await rt.redis.zadd(key, score, member);
  }
}
