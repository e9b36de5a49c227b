// AWS emulators on loopback: moto for IAM and STS, ministack for EKS. moto does not implement EKS access
// entries (CreateAccessEntry, ListAccessEntries, DeleteAccessEntry, AssociateAccessPolicy); ministack
// does, speaking EKS's REST protocol, and creates clusters without Docker. Both pretend to be one account.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import type { PlatformInfo } from './info.js';
import { freePort, type ManagedProcess, startProcess, waitUntil } from './processes.js';

const ACCOUNT_ID = '123456789012'; // moto's fixed default account
const REGION = 'us-east-1';
const START_TIMEOUT_MS = 60_000;
/** The durable archive's bucket (ARCHIVE_BUCKET): test files keep apart by ARCHIVE_PREFIX. */
const ARCHIVE_BUCKET = 'eks-access-archive';

export async function startAws(
  runDir: string,
  venvDir: string,
  track: ManagedProcess[],
): Promise<PlatformInfo['aws']> {
  for (const tool of ['moto_server', 'ministack']) {
    if (!existsSync(join(venvDir, 'bin', tool))) {
      throw new Error(`${tool} is not installed in ${venvDir}: run scripts/platform/install.sh`);
    }
  }
  const logDir = join(runDir, 'logs');
  const [motoPort, ministackPort] = [await freePort(), await freePort()];
  const moto = startProcess(
    'moto',
    join(venvDir, 'bin', 'moto_server'),
    ['-H', '127.0.0.1', '-p', `${motoPort}`],
    {
      logDir,
      env: { ...process.env, MOTO_ACCOUNT_ID: ACCOUNT_ID },
    },
  );
  const ministack = startProcess('ministack', join(venvDir, 'bin', 'ministack'), [], {
    logDir,
    track,
    cwd: runDir,
    env: {
      ...process.env,
      GATEWAY_PORT: `${ministackPort}`,
      BIND_HOST: '127.0.0.1', // its default is 0.0.0.0
      SERVICES: 'eks',
      MINISTACK_ACCOUNT_ID: ACCOUNT_ID,
      MINISTACK_REGION: REGION,
      IOT_MTLS_ENABLED: '0', // would bind another port (8883)
      SFTP_ENABLED: '0',
      S3_DATA_DIR: join(runDir, 'ministack-s3'),
      LOG_LEVEL: 'WARNING',
    },
  });
  const motoUrl = `http://127.0.0.1:${motoPort}`;
  const eksUrl = `http://127.0.0.1:${ministackPort}`;
  await Promise.all([
    waitUntil('moto', async () => ((await fetch(`${motoUrl}/moto-api/data.json`)).ok ? true : undefined), {
      timeoutMs: START_TIMEOUT_MS,
      process: moto,
    }),
    waitUntil('ministack', async () => ((await fetch(`${eksUrl}/_ministack/ready`)).ok ? true : undefined), {
      timeoutMs: START_TIMEOUT_MS,
      process: ministack,
    }),
  ]);
  const credentials = { accessKeyId: 'AKIAEKSACCESSTEST000', secretAccessKey: 'eks-access-test-secret' };
  await createArchiveBucket(motoUrl, credentials);
  return {
    region: REGION,
    // Emulator credentials: any value is accepted, nothing here is secret.
    accessKeyId: 'AKIAEKSACCESSTEST000',
    secretAccessKey: 'eks-access-test-secret',
    accountId: ACCOUNT_ID,
    iamEndpoint: motoUrl,
    stsEndpoint: motoUrl,
    eksEndpoint: eksUrl,
    s3Endpoint: motoUrl,
    archiveBucket: ARCHIVE_BUCKET,
  };
}

/**
 * As an operator makes it (docs/operations.md, "The archive"): Object Lock on at creation (which turns on
 * versioning) and a default COMPLIANCE retention, so no version can be deleted by anyone until it lapses.
 */
async function createArchiveBucket(
  endpoint: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
): Promise<void> {
  const s3 = new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: ARCHIVE_BUCKET, ObjectLockEnabledForBucket: true }));
    await s3.send(
      new PutObjectLockConfigurationCommand({
        Bucket: ARCHIVE_BUCKET,
        ObjectLockConfiguration: {
          ObjectLockEnabled: 'Enabled',
          Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 1 } },
        },
      }),
    );
  } finally {
    s3.destroy();
  }
}
