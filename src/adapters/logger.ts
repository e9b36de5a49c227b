// JSON logs (pino) with secrets redacted by key, wherever they appear in a logged object.
import { type Logger, pino } from 'pino';

export type { Logger };

/** Keys whose values never reach a log line, at any depth pino's redaction reaches. */
export const REDACTED_KEYS = [
  'token',
  'botToken',
  'appToken',
  'signingSecret',
  'clientSecret',
  'secretAccessKey',
  'sessionToken',
  'accessKeyId',
  'authorization',
  'Authorization',
  'password',
  'REDIS_PASSWORD',
  'REDIS_URL',
  'SLACK_BOT_TOKEN',
  'SLACK_APP_TOKEN',
  'SLACK_SIGNING_SECRET',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'SEAL_KEYS',
  'sealKeys',
];

const paths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`, `headers.${key.toLowerCase()}`]);

/** Secret-looking substrings in free text (error messages from SDKs can echo them). */
const SECRET_PATTERNS: RegExp[] = [
  /xox[abposr]-[A-Za-z0-9-]+/g, // Slack bot/user tokens
  /xapp-[A-Za-z0-9-]+/g, // Slack app-level tokens
  /k8s-aws-v1\.[A-Za-z0-9_-]+/g, // EKS bearer tokens
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g, // AWS access key ids
  /X-Amz-Signature=[0-9a-f]+/gi,
  /X-Amz-Security-Token=[^&\s]+/gi,
  /SEAL_KEYS=\S+/g, // seal keys echoed from an environment dump
  /(?<=rediss?(?:\+cluster)?:\/\/)[^@/\s]*(?=@)/g, // user:password in a Redis URL (one node or a cluster)
];

export function scrubSecrets(text: string): string {
  return SECRET_PATTERNS.reduce((out, pattern) => out.replace(pattern, '[REDACTED]'), text);
}

export function createLogger(options: {
  level: string;
  name: string;
  destination?: NodeJS.WritableStream;
}): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths, censor: '[REDACTED]' },
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // Scrub secret-looking text from the message itself (SDK errors sometimes echo tokens).
        logMethod(args, method) {
          const scrubbed = args.map((arg) =>
            typeof arg === 'string' ? scrubSecrets(arg) : arg,
          ) as typeof args;
          method.apply(this, scrubbed);
        },
      },
      serializers: {
        err: (error: unknown) => {
          const serialized = pino.stdSerializers.err(error as Error);
          return {
            ...serialized,
            message: scrubSecrets(serialized.message ?? ''),
            stack: scrubSecrets(serialized.stack ?? ''),
          };
        },
      },
    },
    options.destination as pino.DestinationStream | undefined,
  );
}
