// DurableArchive on S3. The bucket has Object Lock on (so versioning too) with a default COMPLIANCE
// retention: a locked version cannot be deleted by anyone until its retention ends. eks-access's roles hold
// s3:PutObject, s3:GetObject and s3:ListBucket on ARCHIVE_PREFIX only (docs/operations.md, "The archive").
// Keys given to this adapter are relative to that prefix.
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Env } from '../../config/env.js';
import type { DurableArchive } from '../../ports/archive.js';
import { type AwsClientEnv, awsClientOptions } from './client-options.js';
import type { AwsCredentials } from './eks-token.js';
import { awsErrorName, fromAwsError } from './errors.js';

/** The archive of ARCHIVE_BUCKET/ARCHIVE_PREFIX, through the S3 client every process builds the same way. */
export function s3ArchiveFor(
  env: Pick<Env, 'ARCHIVE_PREFIX' | 'AWS_ENDPOINT_URL_S3' | 'AWS_REGION'> &
    AwsClientEnv & { ARCHIVE_BUCKET: string },
  credentials?: AwsCredentials,
): S3Archive {
  const s3 = new S3Client({
    region: env.AWS_REGION ?? 'us-east-1',
    ...(env.AWS_ENDPOINT_URL_S3 ? { endpoint: env.AWS_ENDPOINT_URL_S3, forcePathStyle: true } : {}),
    ...(credentials ? { credentials } : {}),
    ...awsClientOptions(env),
  });
  return new S3Archive(s3, env.ARCHIVE_BUCKET, env.ARCHIVE_PREFIX);
}

export class S3Archive implements DurableArchive {
  readonly #s3: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;

  constructor(s3: S3Client, bucket: string, prefix: string) {
    this.#s3 = s3;
    this.#bucket = bucket;
    this.#prefix = prefix;
  }

  async putOnce(key: string, body: string): Promise<'created' | 'exists'> {
    try {
      await this.#s3.send(
        new PutObjectCommand({
          Bucket: this.#bucket,
          Key: this.#prefix + key,
          Body: body,
          ContentType: 'application/json',
          IfNoneMatch: '*',
        }),
      );
      return 'created';
    } catch (error) {
      // 412: an object is there. 409 ConditionalRequestConflict: a concurrent conditional write of the same
      // key is in flight; S3 lets exactly one of them win, so this one did not create it.
      const name = awsErrorName(error);
      if (name === 'PreconditionFailed' || httpStatus(error) === 412) return 'exists';
      if (name === 'ConditionalRequestConflict') return 'exists';
      throw fromAwsError(error, `write s3://${this.#bucket}/${this.#prefix}${key}`);
    }
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const answer = await this.#s3.send(
        new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
      return (await answer.Body?.transformToString('utf8')) ?? '';
    } catch (error) {
      if (awsErrorName(error) === 'NoSuchKey' || httpStatus(error) === 404) return undefined;
      throw fromAwsError(error, `read s3://${this.#bucket}/${this.#prefix}${key}`);
    }
  }

  async list(prefix: string, options: { startAfter?: string; limit?: number } = {}): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    do {
      try {
        const page = await this.#s3.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
            ...(!token && options.startAfter ? { StartAfter: this.#prefix + options.startAfter } : {}),
            MaxKeys: Math.min(1000, limit - keys.length),
          }),
        );
        for (const object of page.Contents ?? []) {
          if (object.Key) keys.push(object.Key.slice(this.#prefix.length));
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } catch (error) {
        throw fromAwsError(error, `list s3://${this.#bucket}/${this.#prefix}${prefix}`);
      }
    } while (token && keys.length < limit);
    return keys;
  }
}

const httpStatus = (error: unknown): number =>
  (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode ?? 0;
