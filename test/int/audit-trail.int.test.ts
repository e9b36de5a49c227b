// The audit trail beyond Redis, on the real platform: every event goes, as it happens, to stdout (a JSON
// line), the archive (moto's S3 with Object Lock) and the Redis stream as one hash-chained record; an
// archived record rewritten behind eks-access's back breaks the chain and `audit verify` names it; and
// after FLUSHALL the access report for the last week is the same as before.
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ARCHIVE_WAIT_MS, ChainedAuditLog } from '../../src/adapters/audit-trail.js';
import { s3ArchiveFor } from '../../src/adapters/aws/s3-archive.js';
import { createLogger } from '../../src/adapters/logger.js';
import { RedisAuditLog } from '../../src/adapters/redis/audit-log.js';
import { runCli } from '../../src/bin/cli.js';
import { auditArchiveKey, parseRecord, verifyChains } from '../../src/domain/audit-record.js';
import { auditHistory, verifyAuditTrail } from '../../src/shared/audit-history.js';
import { endGrant } from '../../src/shared/end-grant.js';
import { accessReview } from '../../src/shared/report.js';
import { platform, uniqueName } from '../platform/context.js';
import { startAwsFaultProxy } from '../platform/fault-proxy.js';
import { archiveEnv } from '../support/archive.js';
import { pollUntil } from '../support/poll.js';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis.js';
import { engineHarness, type Harness } from './engine-harness.js';

const { aws } = platform();
const s3 = new S3Client({
  region: aws.region,
  endpoint: aws.s3Endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
});

let redis: PrivateRedis | undefined;
let h: Harness | undefined;

beforeAll(async () => {
  redis = await startPrivateRedis('audit');
});
afterEach(async () => {
  await h?.close();
  h = undefined;
});
afterAll(async () => {
  await redis?.stop();
  s3.destroy();
});

/** An approved grant with the bot's `requested` and `approved` events (the harness approves without the bot). */
async function requested(harness: Harness) {
  const person = await harness.person();
  const grant = await harness.approve(person);
  const { audit } = harness.runtime;
  const where = { cluster: grant.cluster, namespace: grant.namespace, level: grant.level };
  await audit.append({
    action: 'requested',
    actor: person.slackUserId,
    grantId: grant.id,
    at: grant.createdAt,
    details: {
      ...where,
      durationSeconds: grant.durationSeconds,
      reason: grant.reason,
      principalArn: person.principalArn,
    },
  });
  for (const approval of grant.approvals)
    await audit.append({
      action: 'approved',
      actor: approval.slackUserId,
      grantId: grant.id,
      at: grant.createdAt,
      details: where,
    });
  return grant;
}

/** Two grants of the last hour: one ended by an approver, one still live. */
async function twoGrants(harness: Harness) {
  await harness.startWorker({ reconcileEveryMs: 3_600_000 });
  const ended = await harness.waitFor((await requested(harness)).id, ['active']);
  const live = await harness.waitFor((await requested(harness)).id, ['active']);
  await endGrant(harness.deps, ended.id, 'revoked', 'U0APPROVER');
  await harness.waitFor(ended.id, ['revoked']);
  await harness.notifier.announced(ended.id, 'ended');
  await harness.notifier.announced(live.id, 'activated');
  return { ended, live };
}

describe('the audit trail beyond Redis', () => {
  it('writes each event as one chained record to stdout, the archive and Redis; a rewritten record breaks the chain', async () => {
    h = await engineHarness('none', { redisUrl: (redis as PrivateRedis).url });
    const harness = h;
    const since = Date.now() - 1_000;
    const { ended } = await twoGrants(harness);

    // stdout: one line per event, all of one writer's chain, in order.
    const records = harness.auditLines.map((line) => parseRecord(line));
    expect(records.every((r) => r !== undefined)).toBe(true);
    const chain = records.flatMap((r) => (r ? [r] : []));
    expect(new Set(chain.map((r) => r.writer)).size).toBe(1);
    expect(chain.map((r) => r.seq)).toEqual(chain.map((_, i) => i + 1));
    expect(verifyChains(chain, { fromStart: true }).problems).toEqual([]);
    expect(chain.map((r) => `${r.event.grantId} ${r.event.action}`)).toContain(`${ended.id} ending`);

    // The archive holds each record under its key, byte for byte the stdout line.
    await harness.runtime.audit.settled();
    const [first] = chain;
    expect(await harness.runtime.archive.get(auditArchiveKey(first as NonNullable<typeof first>))).toBe(
      harness.auditLines[0],
    );
    const until = Date.now();
    const verdict = await verifyAuditTrail({ archive: harness.runtime.archive }, { since, until }, 10_000);
    expect(verdict).toMatchObject({ writers: 1, records: chain.length, problems: [], truncated: false });

    // Someone with s3:PutObject (not eks-access's own conditional write) puts a new version over one
    // record, making the revocation look like a relinquish: the chain names that very record.
    const target = chain.find((r) => r.event.action === 'ending');
    if (!target) throw new Error('no ending event');
    const forged = {
      ...target,
      event: { ...target.event, actor: target.event.grantId, details: { endReason: 'relinquished' } },
    };
    const { ARCHIVE_PREFIX } = archiveEnv(aws, harness.prefix);
    await s3.send(
      new PutObjectCommand({
        Bucket: aws.archiveBucket,
        Key: `${ARCHIVE_PREFIX}${auditArchiveKey(target)}`,
        Body: JSON.stringify(forged),
      }),
    );
    const broken = await verifyAuditTrail({ archive: harness.runtime.archive }, { since, until }, 10_000);
    const named = `writer ${target.writer} record ${target.seq} (ending ${ended.id}): edited (its hash does not match its content)`;
    expect(broken.problems).toEqual([named]);
    // The operator's command says the same and fails.
    const out: string[] = [];
    const code = await runCli(
      ['audit', 'verify', '--since', new Date(since).toISOString()],
      { env: {}, out: (t) => out.push(t), err: (t) => out.push(t) },
      {
        runtime: async () => ({
          store: harness.runtime.store,
          audit: harness.runtime.audit,
          archive: harness.runtime.archive,
          endGrant: () => Promise.reject(new Error('verify must not end grants')),
          reconcile: () => Promise.reject(new Error('verify must not reconcile')),
          forged: () => Promise.reject(new Error('verify must not look for forged bindings')),
          close: async () => {},
        }),
      },
    );
    expect(code).toBe(1);
    expect(JSON.parse(out.join('')).problems).toEqual([named]);
  });

  it('an archive that is down or hung loses nothing and holds nothing up: the record waits, is counted, and lands once S3 answers', async () => {
    const proxy = await startAwsFaultProxy('iam', aws.s3Endpoint);
    const scope = uniqueName('audit-retry');
    const settings = archiveEnv(aws, scope);
    const credentials = { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey };
    const through = s3ArchiveFor(
      { ...settings, AWS_ENDPOINT_URL_S3: proxy.url, AWS_REGION: aws.region, AWS_MAX_ATTEMPTS: 1 },
      credentials,
    );
    const direct = s3ArchiveFor({ ...settings, AWS_REGION: aws.region }, credentials);
    const client = new Redis(platform().redisUrl);
    const lines: string[] = [];
    const trail = new ChainedAuditLog({
      redis: new RedisAuditLog(client, `{${scope}}:`),
      archive: through,
      writer: 'worker-retry1',
      writeLine: (line) => lines.push(line),
      logger: createLogger({ level: 'silent', name: 'audit-retry' }),
      retryMs: 200,
    });
    try {
      proxy.set({ kind: 'down' });
      const event = { action: 'revoked', actor: 'system', grantId: 'ea-retryaaa', at: Date.now() };
      await trail.append(event);
      await trail.settled();
      expect(await trail.read({ grantId: event.grantId })).toEqual([event]);
      expect(lines).toHaveLength(1);
      expect(trail.failures).toBeGreaterThan(0);
      expect(trail.pending).toBe(1);
      const key = auditArchiveKey({ writer: 'worker-retry1', seq: 1, event });
      expect(await direct.get(key)).toBeUndefined();

      proxy.set({ kind: 'pass' });
      await pollUntil(
        'the waiting record written',
        async () => trail.pending,
        (n) => n === 0,
        { timeoutMs: 10_000 },
      );
      expect(await direct.get(key)).toBe(lines[0]);

      // A hung S3 holds an append up for ARCHIVE_WAIT_MS at most; the write lands when S3 answers.
      proxy.set({ kind: 'freeze' });
      const later = { ...event, grantId: 'ea-retrybbb', at: Date.now() };
      const started = Date.now();
      await trail.append(later);
      expect(Date.now() - started).toBeLessThan(ARCHIVE_WAIT_MS + 1_500);
      proxy.set({ kind: 'pass' });
      await trail.settled();
      await pollUntil(
        'the held record written',
        async () => trail.pending,
        (n) => n === 0,
        { timeoutMs: 10_000 },
      );
      expect(await direct.get(auditArchiveKey({ writer: 'worker-retry1', seq: 2, event: later }))).toBe(
        lines[1],
      );
    } finally {
      await trail.close();
      client.disconnect();
      await proxy.close();
    }
  });

  it('the Redis stream keeps AUDIT_STREAM_RETENTION: an append drops what is older', async () => {
    const client = new Redis(platform().redisUrl);
    const prefix = `{${uniqueName('audit-retention')}}:`;
    try {
      const now = Date.now();
      // An entry written two minutes ago (its stream id says when), then one now with a 1-minute retention.
      await client.xadd(
        `${prefix}audit`,
        `${now - 120_000}-0`,
        'action',
        'requested',
        'actor',
        'U0OLD',
        'grantId',
        'ea-oldaaaaa',
        'at',
        String(now - 120_000),
        'details',
        '{}',
      );
      const stream = new RedisAuditLog(client, prefix, { retentionMs: 60_000 });
      expect(await stream.read({})).toHaveLength(1);
      await stream.append({ action: 'requested', actor: 'U0NEW', grantId: 'ea-newaaaaa', at: now });
      expect((await stream.read({})).map((e) => e.grantId)).toEqual(['ea-newaaaaa']);
    } finally {
      await client.del(`${prefix}audit`);
      client.disconnect();
    }
  });

  it('after FLUSHALL the access report of the last week is what it was, read from the archive', async () => {
    const url = (redis as PrivateRedis).url;
    h = await engineHarness('none', { redisUrl: url });
    const harness = h;
    const { ended, live } = await twoGrants(harness);
    const now = Date.now();
    const window = { since: now - 7 * 86_400_000, until: now, cluster: undefined };
    const deps = {
      audit: harness.runtime.audit,
      archive: harness.runtime.archive,
      policy: harness.runtime.policy,
    };
    await harness.runtime.audit.settled();
    const before = await accessReview(deps, window, 'csv');
    expect(before.rows).toBe(2);
    expect(before.text).toContain(ended.id);
    expect(before.text).toContain(live.id);

    const admin = new Redis(url);
    try {
      await admin.flushall();
    } finally {
      admin.disconnect();
    }
    expect(await harness.runtime.audit.read({ since: window.since })).toEqual([]);
    const history = await auditHistory(deps, window, 100_000);
    expect(history.fromArchive).toBeGreaterThan(0);
    const after = await accessReview(deps, window, 'csv');
    expect(after.text).toBe(before.text);
  });
});
