import { describe, expect, it } from 'vitest';
import { missingSlackSettings } from '../../src/config/env.js';
import { parseEnv } from '../../src/config/load.js';

describe('environment', () => {
  it('has defaults for everything but Slack', () => {
    const env = parseEnv({});
    expect(env.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(env.SLACK_TRANSPORT).toBe('socket');
    expect(env.REDIS_PREFIX).toBe('{eks-access}');
    expect(env.RECONCILE_INTERVAL).toBe('30s');
    expect(missingSlackSettings(env).join('\n')).toMatch(/SLACK_BOT_TOKEN[\s\S]*SLACK_APP_TOKEN/);
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
});
