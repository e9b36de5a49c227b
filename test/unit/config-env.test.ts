import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/adapters/logger.js';
import { describeRedisUrl } from '../../src/adapters/redis/connection.js';
import { requireSealKeys } from '../../src/bin/engine-runtime.js';
import { jobLock } from '../../src/bin/worker.js';
import { missingSlackSettings } from '../../src/config/env.js';
import { parseEnv } from '../../src/config/load.js';
import { parseRedisUrl } from '../../src/config/redis-url.js';

/** parseEnv's error message for `raw`, '' when it parses. */
function errorOf(raw: Record<string, string>): string {
  try {
    parseEnv(raw);
    return '';
  } catch (error) {
    return (error as Error).message;
  }
}

describe('environment', () => {
  it('has defaults for everything but Slack', () => {
    const env = parseEnv({});
    expect(env.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(env.SLACK_TRANSPORT).toBe('socket');
    expect(env.REDIS_PREFIX).toBe('{eks-access}');
    expect(env.RECONCILE_INTERVAL).toBe('30s');
    expect(missingSlackSettings(env).join('\n')).toMatch(/SLACK_BOT_TOKEN[\s\S]*SLACK_APP_TOKEN/);
  });

  it("reads JOB_LOCK_DURATION as the workers' lock and stalled-check interval; unset keeps BullMQ's 30 s", () => {
    expect(jobLock(parseEnv({}).JOB_LOCK_DURATION)).toEqual({});
    expect(jobLock(parseEnv({ JOB_LOCK_DURATION: '2s' }).JOB_LOCK_DURATION)).toEqual({
      lockDuration: 2_000,
      stalledInterval: 2_000,
    });
    expect(jobLock(parseEnv({ JOB_LOCK_DURATION: '1m' }).JOB_LOCK_DURATION)).toMatchObject({
      lockDuration: 60_000,
    });
    expect(errorOf({ JOB_LOCK_DURATION: 'soon' })).toContain(
      'env: JOB_LOCK_DURATION: a duration like 30s or 1m',
    );
    expect(errorOf({ JOB_LOCK_DURATION: '0s' })).toContain('env: JOB_LOCK_DURATION');
  });

  it('asks for the signing secret, not the app token, in HTTP mode', () => {
    const env = parseEnv({ SLACK_TRANSPORT: 'http', SLACK_BOT_TOKEN: 'xoxb-1' });
    expect(missingSlackSettings(env)).toEqual([
      'SLACK_SIGNING_SECRET ("Basic Information" → Signing Secret)',
    ]);
  });

  it('reports every bad variable at once without echoing secret values', () => {
    let message = '';
    try {
      parseEnv({
        SLACK_BOT_TOKEN: 'xoxp-user-token-secret',
        SLACK_TRANSPORT: 'carrier-pigeon',
        PORT: '99999',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('env: SLACK_BOT_TOKEN: a bot token starts with xoxb-');
    expect(message).toContain('env: SLACK_TRANSPORT');
    expect(message).toContain('env: PORT');
    expect(message).not.toContain('xoxp-user-token-secret');
  });

  it('refuses a short seal key without echoing it, and every role refuses to start without one', () => {
    const short = Buffer.alloc(20, 1).toString('base64');
    let message = '';
    try {
      parseEnv({ SEAL_KEYS: `k1:${short}` });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('env: SEAL_KEYS: key 1 ("k1"): the secret is 20 bytes; at least 32');
    expect(message).not.toContain(short);
    expect(() => requireSealKeys(parseEnv({}))).toThrow(/SEAL_KEYS is not set.*openssl rand -base64 32/);
    const keys = requireSealKeys(parseEnv({ SEAL_KEYS: `k1:${Buffer.alloc(32, 2).toString('base64')}` }));
    expect(keys.currentId).toBe('k1');
  });

  it('keeps SEAL_KEYS out of log lines', () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      name: 't',
      destination: { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream,
    });
    const secret = Buffer.alloc(32, 3).toString('base64');
    logger.info({ env: { SEAL_KEYS: `k1:${secret}` } }, `started with SEAL_KEYS=k1:${secret}`);
    expect(lines.join('')).toContain('started');
    expect(lines.join('')).not.toContain(secret);
  });

  it('validates the Redis TLS settings: a CA file needs rediss:// and must be readable', () => {
    expect(errorOf({ REDIS_URL: 'redis://r:6379', REDIS_TLS_CA_FILE: 'package.json' })).toContain(
      'env: REDIS_TLS_CA_FILE: needs a TLS connection: REDIS_URL must start with rediss://',
    );
    expect(errorOf({ REDIS_URL: 'rediss://r:6380', REDIS_TLS_CA_FILE: '/no/such/ca.pem' })).toContain(
      '/no/such/ca.pem is not a readable file',
    );
    expect(errorOf({ REDIS_URL: 'http://r:6379' })).toContain('env: REDIS_URL');
    expect(errorOf({ REDIS_PASSWORD: '' })).toContain('env: REDIS_PASSWORD');
    const env = parseEnv({
      REDIS_URL: 'rediss://r:6380',
      REDIS_TLS_CA_FILE: 'package.json',
      REDIS_USERNAME: 'eks-access',
      REDIS_PASSWORD: 's3cret-value',
    });
    expect(env.REDIS_USERNAME).toBe('eks-access');
  });

  it('reads a Redis Cluster URL: seed nodes, TLS from the scheme, a hash tag required in the prefix', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:6379,[fd00::2]:7000,r3.example:6380')).toEqual({
      target: {
        mode: 'cluster',
        tls: false,
        nodes: [
          { host: '10.0.0.1', port: 6379 },
          { host: 'fd00::2', port: 7000 },
          { host: 'r3.example', port: 6380 },
        ],
      },
    });
    expect(parseRedisUrl('rediss+cluster://eks-access:p%40ss@cfg.cache.amazonaws.com:6379')).toEqual({
      target: {
        mode: 'cluster',
        tls: true,
        nodes: [{ host: 'cfg.cache.amazonaws.com', port: 6379 }],
        username: 'eks-access',
        password: 'p@ss',
      },
    });
    expect(parseRedisUrl('redis://r:6379')).toEqual({
      target: { mode: 'standalone', url: 'redis://r:6379', tls: false },
    });
    expect(errorOf({ REDIS_URL: 'redis+cluster://r1:6379,r2' })).toContain(
      'env: REDIS_URL: "r2" is not host:port',
    );
    expect(errorOf({ REDIS_URL: 'redis+cluster://r1:99999' })).toContain('env: REDIS_URL');
    expect(errorOf({ REDIS_URL: 'redis+cluster://r1:6379', REDIS_PREFIX: 'eks-access' })).toContain(
      'env: REDIS_PREFIX: "eks-access" has no hash tag',
    );
    expect(errorOf({ REDIS_URL: 'redis+cluster://r1:6379', REDIS_PREFIX: '{}eks' })).toContain(
      'env: REDIS_PREFIX',
    );
    expect(errorOf({ REDIS_URL: 'redis+cluster://r1:6379', REDIS_TLS_CA_FILE: 'package.json' })).toContain(
      'env: REDIS_TLS_CA_FILE: needs a TLS connection',
    );
    expect(errorOf({ REDIS_URL: 'rediss+cluster://r1:6379', REDIS_TLS_CA_FILE: 'package.json' })).toBe('');
    // A single Redis needs no tag; a cluster takes the default {eks-access}.
    expect(errorOf({ REDIS_PREFIX: 'eks-access' })).toBe('');
    expect(parseEnv({ REDIS_URL: 'redis+cluster://r1:6379' }).REDIS_PREFIX).toBe('{eks-access}');
    // Never a password in what doctor and messages show.
    expect(describeRedisUrl('rediss+cluster://u:hunter2@r1:6379,r2:6379')).toBe(
      'rediss+cluster://r1:6379,r2:6379',
    );
    expect(describeRedisUrl('redis://u:hunter2@r1:6379')).toBe('redis://u:***@r1:6379');
  });

  it('never echoes a Redis password in a configuration error', () => {
    let message = '';
    try {
      parseEnv({ REDIS_URL: 'redis://u:hunter2-secret@r:6379', REDIS_PASSWORD: 'another-secret', PORT: 'x' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('env: PORT');
    expect(message).not.toContain('hunter2-secret');
    expect(message).not.toContain('another-secret');
  });
});
