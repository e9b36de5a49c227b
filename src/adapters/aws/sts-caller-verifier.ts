// The API's caller verifier: judges a presigned GetCallerIdentity token (domain/caller-token.ts), claims
// its single use in Redis, sends it to STS itself with a plain HTTPS GET (no AWS credentials of ours, no
// redirect followed, nothing but the signed headers), and believes only STS's answer. Then the account
// allow-list and the unique-id check. Every refusal is an AccessError; none repeats the token.
import { createHash } from 'node:crypto';
import https from 'node:https';
import {
  assertSameUniqueId,
  type CallerTokenRules,
  judgeStsCaller,
  readCallerToken,
  type StsCaller,
  type VerifiedCaller,
} from '../../domain/caller-token.js';
import type { Clock } from '../../domain/clock.js';
import { AccessError, forbidden } from '../../domain/errors.js';
import type { RedisClient } from '../redis/connection.js';

/** Marks a token used, once: true the first time, false ever after (until `ttlMs` has passed). */
export interface SingleUse {
  claim(key: string, ttlMs: number): Promise<boolean>;
}

/** Single use on Redis: SET NX with the token's remaining validity as its lifetime. */
export function redisSingleUse(redis: RedisClient, prefix: string): SingleUse {
  return {
    async claim(key, ttlMs) {
      return (await redis.set(`${prefix}api-token:${key}`, '1', 'PX', Math.max(1, ttlMs), 'NX')) === 'OK';
    },
  };
}

/** The current unique id (AIDA…/AROA…) of an IAM user or role ARN; undefined when it does not exist. */
export type UniqueIdOf = (principalArn: string) => Promise<string | undefined>;

/** One GET as STS answers it. */
export interface StsAnswer {
  status: number;
  body: string;
}

/** How long STS gets to answer: a caller waits on it. */
const STS_TIMEOUT_MS = 10_000;
/** STS's answer is a few hundred bytes; anything much larger is not STS. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * A plain HTTPS GET to exactly `url` with exactly `headers`: node:https follows no redirect, so a 3xx is
 * just an answer that is not 200. `agent` is the connection (tests route the allowed STS host name to the
 * emulator through it; the host checked and sent stays the real one).
 */
export function httpsGet(agent?: https.Agent) {
  return (url: string, headers: Readonly<Record<string, string>>): Promise<StsAnswer> =>
    new Promise((resolve, reject) => {
      const request = https.get(
        url,
        {
          headers: { ...headers, accept: 'application/json' },
          timeout: STS_TIMEOUT_MS,
          ...(agent ? { agent } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_ANSWER_BYTES) {
              response.destroy(new Error('STS answered too much'));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () =>
            resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
          response.on('error', reject);
        },
      );
      request.on('timeout', () => request.destroy(new Error('STS did not answer in time')));
      request.on('error', reject);
    });
}

/** GetCallerIdentity's answer, in JSON (what STS sends for `Accept: application/json`) or XML. */
export function parseStsAnswer(body: string): StsCaller | undefined {
  try {
    const json = JSON.parse(body) as {
      GetCallerIdentityResponse?: { GetCallerIdentityResult?: Record<string, unknown> };
    };
    const result = json.GetCallerIdentityResponse?.GetCallerIdentityResult;
    if (result) {
      const { Arn, Account, UserId } = result;
      if (typeof Arn === 'string' && typeof Account === 'string' && typeof UserId === 'string') {
        return { arn: Arn, account: Account, userId: UserId };
      }
      return undefined;
    }
  } catch {
    // not JSON: XML below
  }
  const field = (name: string) => {
    const all = [...body.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))];
    return all.length === 1 ? all[0]?.[1] : undefined;
  };
  if (!/<GetCallerIdentityResult>/.test(body)) return undefined;
  const arn = field('Arn');
  const account = field('Account');
  const userId = field('UserId');
  return arn && account && userId ? { arn, account, userId } : undefined;
}

export interface CallerVerifierOptions {
  rules: CallerTokenRules;
  /** AWS accounts callers may be in. */
  accounts: readonly string[];
  singleUse: SingleUse;
  uniqueIdOf: UniqueIdOf;
  clock: Clock;
  /** How a GET reaches STS; httpsGet() in production. */
  get?: (url: string, headers: Readonly<Record<string, string>>) => Promise<StsAnswer>;
}

export class StsCallerVerifier {
  readonly #options: CallerVerifierOptions;
  readonly #get: NonNullable<CallerVerifierOptions['get']>;

  constructor(options: CallerVerifierOptions) {
    this.#options = options;
    this.#get = options.get ?? httpsGet();
  }

  /** Who the token's signer is, per STS; throws AccessError (forbidden, bad_input, unavailable). */
  async verify(token: string): Promise<VerifiedCaller> {
    const { rules, accounts, uniqueIdOf, clock } = this.#options;
    const now = clock.now();
    const request = readCallerToken(token, rules, now);
    // Claimed before STS is asked, so two concurrent uses cannot both pass; a token whose STS call
    // fails is spent all the same (the client signs a new one in a millisecond).
    const key = createHash('sha256').update(request.signature).digest('hex');
    if (!(await this.#claim(key, request.validUntil - now))) {
      throw forbidden('That token was already used', 'Each token is good for one request: sign a new one.', {
        token: 'reused',
      });
    }
    let answer: StsAnswer;
    try {
      answer = await this.#get(request.url, request.headers);
    } catch (error) {
      throw new AccessError('unavailable', 'STS did not answer while checking who you are', {
        cause: error,
        details: { token: 'sts-unreachable' },
      });
    }
    if (answer.status >= 500) {
      throw new AccessError('unavailable', `STS answered ${answer.status} while checking who you are`, {
        details: { token: 'sts-error', status: answer.status },
      });
    }
    const caller = answer.status === 200 ? parseStsAnswer(answer.body) : undefined;
    if (!caller) {
      // 403 SignatureDoesNotMatch (another installation's audience, a tampered URL), expired, a key that
      // no longer exists, a 3xx: all the same to the caller, who signs again.
      throw forbidden(
        `STS did not accept that token (HTTP ${answer.status})`,
        'Sign a new token for this installation with credentials that are still valid.',
        { token: 'sts-refused', status: answer.status },
      );
    }
    const verified = judgeStsCaller(caller, accounts);
    let current: string | undefined;
    try {
      current = await uniqueIdOf(verified.principalArn);
    } catch (error) {
      throw new AccessError('unavailable', 'IAM did not answer while checking who you are', {
        cause: error,
        details: { token: 'iam-unreachable' },
      });
    }
    assertSameUniqueId(verified, current);
    return verified;
  }

  async #claim(key: string, ttlMs: number): Promise<boolean> {
    try {
      return await this.#options.singleUse.claim(key, ttlMs);
    } catch (error) {
      throw new AccessError('unavailable', 'Redis did not answer while checking the token', {
        cause: error,
        details: { token: 'redis-unreachable' },
      });
    }
  }
}
