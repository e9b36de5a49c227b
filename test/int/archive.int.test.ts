// The durable archive (S3 with Object Lock, served by moto) as the runtime builds it: write-once keys,
// listing in order past S3's page size, and a locked version nobody can delete.
import {
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { requireArchive } from '../../src/bin/engine-runtime.js';
import { parseEnv } from '../../src/config/load.js';
import { platform, uniqueName } from '../platform/context.js';
import { archiveEnv } from '../support/archive.js';

const { aws } = platform();
const credentials = { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey };
const scope = uniqueName('archive');
const settings = archiveEnv(aws, scope);
const archive = requireArchive(parseEnv({ ...settings, AWS_REGION: aws.region }), credentials);
const s3 = new S3Client({ region: aws.region, endpoint: aws.s3Endpoint, forcePathStyle: true, credentials });
afterAll(() => s3.destroy());

describe('the durable archive', () => {
  it('writes a key once: a second write of any body answers exists and leaves the first', async () => {
    expect(await archive.putOnce('ledger/g1/activation', '{"first":true}')).toBe('created');
    expect(await archive.putOnce('ledger/g1/activation', '{"first":true}')).toBe('exists');
    expect(await archive.putOnce('ledger/g1/activation', '{"second":true}')).toBe('exists');
    expect(await archive.get('ledger/g1/activation')).toBe('{"first":true}');
    expect(await archive.get('ledger/g1/ended')).toBeUndefined();
  });

  it('lets exactly one of many concurrent writes of a key create it', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => archive.putOnce('ledger/g2/extension/x1', `{"writer":${i}}`)),
    );
    expect(answers.filter((a) => a === 'created')).toHaveLength(1);
  });

  it('lists keys in order after a start key, past one page of 1000', async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `audit/2026-12-04/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => archive.putOnce(k, '{}')));
    }
    expect(await archive.list('audit/')).toEqual(keys);
    expect(await archive.list('audit/', { startAfter: 'audit/2026-12-04/01000' })).toEqual(keys.slice(1001));
    expect(await archive.list('audit/', { limit: 3 })).toEqual(keys.slice(0, 3));
  });

  it('refuses to delete a locked version (COMPLIANCE retention), so a written fact cannot be erased', async () => {
    const key = `${settings.ARCHIVE_PREFIX}ledger/g3/ended`;
    const put = await s3.send(new PutObjectCommand({ Bucket: aws.archiveBucket, Key: key, Body: '{}' }));
    expect(put.VersionId).toBeTruthy();
    await expect(
      s3.send(new DeleteObjectCommand({ Bucket: aws.archiveBucket, Key: key, VersionId: put.VersionId })),
    ).rejects.toMatchObject({ name: 'AccessDenied' });
    // A delete without a version only hides it behind a delete marker; the locked version stays.
    await s3.send(new DeleteObjectCommand({ Bucket: aws.archiveBucket, Key: key }));
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: aws.archiveBucket, Prefix: key }));
    expect(versions.Versions?.map((v) => v.VersionId)).toContain(put.VersionId);
  });
});
