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
});
