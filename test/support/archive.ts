// The durable archive's settings for one test stack's processes: the platform's Object Lock bucket in moto,
// under a prefix named after the stack's own scope (its REDIS_PREFIX), so stacks sharing the bucket never
// read each other's ledger or audit, while the processes of one stack (bot, worker, a worker process,
// the CLI) share theirs as a deployment does.
import type { PlatformInfo } from '../platform/info.js';

export function archiveEnv(
  aws: Pick<PlatformInfo['aws'], 'archiveBucket' | 's3Endpoint'>,
  scope: string,
): { ARCHIVE_BUCKET: string; ARCHIVE_PREFIX: string; AWS_ENDPOINT_URL_S3: string } {
  return {
    ARCHIVE_BUCKET: aws.archiveBucket,
    ARCHIVE_PREFIX: `${scope.replace(/[^a-z0-9-]/gi, '') || 'test'}/`,
    AWS_ENDPOINT_URL_S3: aws.s3Endpoint,
  };
}
