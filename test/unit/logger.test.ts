import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, scrubSecrets } from '../../src/adapters/logger.js';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger({ level: 'info', name: 'test', destination }) };
}

describe('logger', () => {
  it('redacts secrets by key, at depth', () => {
    const { lines, logger } = capture();
    logger.info(
      { botToken: 'xoxb-111-secret', slack: { signingSecret: 'shh' }, aws: { secretAccessKey: 'AbC' } },
      'hello',
    );
    const line = lines.join('');
    expect(line).toContain('[REDACTED]');
    expect(line).not.toMatch(/xoxb-111-secret|shh|AbC/);
  });

  it('scrubs tokens that SDK errors echo into messages and stacks', () => {
    const { lines, logger } = capture();
    logger.error(
      { err: new Error('invalid_auth for xoxb-123-abc and k8s-aws-v1.aHR0cHM6Ly9zdHM') },
      'call failed xapp-1-A0',
    );
    const line = lines.join('');
    expect(line).not.toMatch(/xoxb-123-abc|k8s-aws-v1\.aHR0|xapp-1-A0/);
    expect(scrubSecrets('key AKIAABCDEFGHIJKLMNOP used')).toBe('key [REDACTED] used');
  });

  it('never prints a Redis password: not by key, not inside a REDIS_URL in a message or an error', () => {
    const { lines, logger } = capture();
    logger.info({ env: { REDIS_PASSWORD: 'pw-by-key', REDIS_URL: 'rediss://u:pw-in-url@r:6380' } }, 'start');
    logger.error(
      { err: new Error('connect to redis://eks-access:pw-in-error@redis:6379 failed') },
      'redis down at rediss://:pw-in-message@r:6380/0',
    );
    const line = lines.join('');
    expect(line).not.toMatch(/pw-by-key|pw-in-url|pw-in-error|pw-in-message/);
    expect(scrubSecrets('rediss://eks-access:x@redis:6380')).toBe('rediss://[REDACTED]@redis:6380');
    expect(scrubSecrets('redis://redis:6379')).toBe('redis://redis:6379');
  });
});
