// The process environment, parsed once. Nothing else in eks-access reads process.env.
import { accessSync, constants } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from '../domain/duration.js';
import { parseSealKeys } from '../domain/seal.js';
import { hasHashTag, parseRedisUrl } from './redis-url.js';

const optionalUrl = z
  .string()
  .url('a URL like http://127.0.0.1:5000')
  .optional()
  .or(z.literal('').transform(() => undefined));

export const envSchema = z
  .object({
    SLACK_BOT_TOKEN: z.string().startsWith('xoxb-', 'a bot token starts with xoxb-').optional(),
    SLACK_APP_TOKEN: z.string().startsWith('xapp-', 'an app-level token starts with xapp-').optional(),
    SLACK_SIGNING_SECRET: z.string().min(8).optional(),
    SLACK_TRANSPORT: z.enum(['socket', 'http']).default('socket'),
    /** Only for tests and air-gapped proxies: where the Slack Web API lives (must end in /api/). */
    SLACK_API_URL: optionalUrl,
    /**
     * One Redis (redis://, rediss:// for TLS) or a Redis Cluster's seed nodes
     * (redis+cluster://host:port,host:port…, rediss+cluster:// for TLS): see config/redis-url.ts.
     */
    REDIS_URL: z
      .string()
      .default('redis://127.0.0.1:6379')
      .superRefine((url, ctx) => {
        const parsed = parseRedisUrl(url);
        if ('problem' in parsed) ctx.addIssue({ code: 'custom', message: parsed.problem });
      }),
    /** Redis ACL user (Redis 6+); with only REDIS_PASSWORD, the `default` user (requirepass). */
    REDIS_USERNAME: z.string().min(1).optional(),
    /** From a Secret; kept out of REDIS_URL so the URL can be shown and logged. Never logged itself. */
    REDIS_PASSWORD: z.string().min(1, 'empty: leave REDIS_PASSWORD unset instead').optional(),
    /** PEM CA bundle that signed Redis's certificate (rediss:// only); the system CAs when unset. */
    REDIS_TLS_CA_FILE: z.string().min(1).optional(),
    /**
     * Key prefix of every key (ours and BullMQ's). Braces make a Redis Cluster hash tag, keeping every key
     * in one slot; required in cluster mode (Lua scripts and MULTI touch several keys at once).
     */
    REDIS_PREFIX: z.string().default('{eks-access}'),
    LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
    POLICY_FILE: z.string().optional(),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    /** Health and metrics listener (bot and worker). */
    METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9464),
    /** The API for `kubectl eks-access` and CI (policy `api.enabled`; docs/api.md). Plain HTTP: TLS at the ingress. */
    API_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    RECONCILE_INTERVAL: z
      .string()
      .default('30s')
      .refine((t) => (parseDuration(t) ?? 0) > 0, 'a duration like 30s or 1m'),
    WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(100).default(8),
    /**
     * How long a running job's lock lasts without renewal, and how often the workers look for jobs whose
     * lock lapsed: a job whose worker died (SIGKILL, OOM, a lost node) runs again after about twice this.
     * Unset: BullMQ's own 30 s each. Shorter means faster recovery and more Redis traffic for renewals.
     */
    JOB_LOCK_DURATION: z
      .string()
      .optional()
      .refine((t) => t === undefined || (parseDuration(t) ?? 0) > 0, 'a duration like 30s or 1m'),
    /** Endpoints for the AWS SDK clients (emulators in tests, VPC endpoints in production). */
    AWS_ENDPOINT_URL_IAM: optionalUrl,
    AWS_ENDPOINT_URL_STS: optionalUrl,
    AWS_ENDPOINT_URL_EKS: optionalUrl,
    AWS_ENDPOINT_URL_S3: optionalUrl,
    /**
     * The durable archive (docs/operations.md, "The archive"): an S3 bucket with Object Lock and a default
     * COMPLIANCE retention, holding the single-use ledger and the audit trail beyond Redis. Required by the
     * bot, the worker and the CLI (createRuntime refuses to start without it).
     */
    ARCHIVE_BUCKET: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 of a-z, 0-9, ".", "-")')
      .optional(),
    /** Key prefix of everything eks-access writes to the archive; the IAM policies grant only this prefix. */
    ARCHIVE_PREFIX: z
      .string()
      .default('eks-access/')
      .refine((p) => p === '' || p.endsWith('/'), 'a prefix ending in "/", like eks-access/'),
    /**
     * How long the Redis audit stream keeps events (each append trims older ones, approximately). The
     * archive keeps every event for its own retention; reports read it where the stream no longer reaches.
     */
    AUDIT_STREAM_RETENTION: z
      .string()
      .default('30d')
      .refine((t) => (parseDuration(t) ?? 0) > 0, 'a duration like 30d'),
    AWS_REGION: z.string().optional(),
    /** Per-attempt limit on every AWS call (the SDK retries up to 3 attempts): a frozen endpoint fails as unavailable. */
    AWS_REQUEST_TIMEOUT: z
      .string()
      .default('10s')
      .refine((t) => (parseDuration(t) ?? 0) > 0, 'a duration like 10s'),
    /**
     * Attempts per AWS call (the SDK's adaptive retry: jittered backoff, 1 s base after throttling, and a
     * client-side rate that drops on Throttling); a job whose call still fails is retried by the queue.
     */
    AWS_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(3),
    /**
     * The seal keys (a Kubernetes Secret): `<id>:<base64 secret>[,<id>:<base64 secret>…]`, the sealing
     * key first, older ones still accepted. Required by the bot, the worker and the CLI (createRuntime
     * refuses to start without it). Never logged.
     */
    SEAL_KEYS: z
      .string()
      .optional()
      .superRefine((text, ctx) => {
        if (text === undefined) return;
        for (const problem of parseSealKeys(text).problems)
          ctx.addIssue({ code: 'custom', message: problem });
      }),
  })
  .passthrough()
  .superRefine((env, ctx) => {
    const parsed = parseRedisUrl(env.REDIS_URL);
    const target = 'target' in parsed ? parsed.target : undefined;
    if (target?.mode === 'cluster' && !hasHashTag(env.REDIS_PREFIX)) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_PREFIX'],
        message: `"${env.REDIS_PREFIX}" has no hash tag: a Redis Cluster needs every key in one slot, e.g. {eks-access}`,
      });
    }
    const ca = env.REDIS_TLS_CA_FILE;
    if (!ca) return;
    if (target && !target.tls) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_TLS_CA_FILE'],
        message:
          'needs a TLS connection: REDIS_URL must start with rediss:// (rediss+cluster:// for a cluster)',
      });
    }
    if (!readable(ca)) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_TLS_CA_FILE'],
        message: `${ca} is not a readable file (mount the CA bundle there)`,
      });
    }
  });

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

export type Env = z.infer<typeof envSchema>;

/** The Slack part of the environment that the bot cannot run without, per transport. */
export function missingSlackSettings(env: Env): string[] {
  const missing: string[] = [];
  if (!env.SLACK_BOT_TOKEN) missing.push('SLACK_BOT_TOKEN (xoxb-…, "OAuth & Permissions" page)');
  if (env.SLACK_TRANSPORT === 'socket' && !env.SLACK_APP_TOKEN) {
    missing.push('SLACK_APP_TOKEN (xapp-… with connections:write, "Basic Information" → App-Level Tokens)');
  }
  if (env.SLACK_TRANSPORT === 'http' && !env.SLACK_SIGNING_SECRET) {
    missing.push('SLACK_SIGNING_SECRET ("Basic Information" → Signing Secret)');
  }
  return missing;
}

/** How to provide the archive bucket, for the start-up refusal and doctor. */
export const ARCHIVE_BUCKET_FIX =
  'Create an S3 bucket with Object Lock enabled and a default COMPLIANCE retention, grant the bot, the worker and ' +
  'the CLI the statements `eks-access iam-policy render` lists for it, and set ARCHIVE_BUCKET to its name. ' +
  'See docs/operations.md, "The archive".';

/** How to create the seal key, for the start-up refusal and doctor. */
export const SEAL_KEYS_FIX =
  'Create it once and give it to the bot, the worker and the CLI: ' +
  'kubectl -n eks-access create secret generic eks-access-seal --from-literal=SEAL_KEYS="k1:$(openssl rand -base64 32)" ' +
  '(locally: add SEAL_KEYS=k1:<that value> to .env). See docs/engine.md, "Seals".';
