// Which Slack failures the outbox retries (and after how long), and which it gives up on at once.
import { describe, expect, it } from 'vitest';
import {
  isTransientSlackError,
  retryAfterMs,
  slackAccessError,
  slackErrorCode,
  slackRefusalForPerson,
} from '../../src/adapters/slack/errors.js';

const platform = (error: string) => ({ code: 'slack_webapi_platform_error', data: { ok: false, error } });

describe('Slack errors', () => {
  it('retries rate limits (with Retry-After), network failures and 5xx', () => {
    const limited = { code: 'slack_webapi_rate_limited_error', retryAfter: 7 };
    expect(isTransientSlackError(limited)).toBe(true);
    expect(retryAfterMs(limited)).toBe(7000);
    expect(isTransientSlackError({ code: 'slack_webapi_request_error' })).toBe(true);
    expect(isTransientSlackError({ code: 'slack_webapi_http_error', statusCode: 503 })).toBe(true);
    expect(isTransientSlackError(platform('internal_error'))).toBe(true);
  });

  it('gives up at once on what Slack will not change its mind about', () => {
    for (const code of ['not_in_channel', 'channel_not_found', 'invalid_blocks', 'missing_scope']) {
      expect(isTransientSlackError(platform(code))).toBe(false);
      expect(slackErrorCode(platform(code))).toBe(code);
    }
    expect(isTransientSlackError({ code: 'slack_webapi_http_error', statusCode: 400 })).toBe(false);
    expect(isTransientSlackError(new Error('boom'))).toBe(false);
    expect(retryAfterMs(new Error('boom'))).toBeUndefined();
  });

  it('tells a person what to do when a form could not open, and leaves every other failure alone', () => {
    expect(slackRefusalForPerson(platform('expired_trigger_id'))).toMatchObject({
      kind: 'unavailable',
      hint: 'Click the button again; nothing was changed.',
    });
    expect(slackRefusalForPerson(platform('exchanged_trigger_id'))?.kind).toBe('conflict');
    expect(slackRefusalForPerson(platform('not_in_channel'))).toBeUndefined();
    expect(slackRefusalForPerson(new Error('boom'))).toBeUndefined();
  });

  it("classifies Slack's documented names: both rate-limit spellings and message_limit_exceeded wait, admin refusals do not", () => {
    for (const code of ['ratelimited', 'rate_limited', 'message_limit_exceeded', 'service_unavailable'])
      expect(isTransientSlackError(platform(code)), code).toBe(true);
    for (const code of [
      'restricted_action',
      'ekm_access_denied',
      'msg_blocks_too_long',
      'is_archived',
      'is_inactive',
      'user_disabled',
      'plan_upgrade_required',
    ])
      expect(isTransientSlackError(platform(code)), code).toBe(false);
    expect(isTransientSlackError({ code: 'slack_webapi_http_error', statusCode: 502 })).toBe(true);
  });

  it('maps every Slack failure into the error vocabulary, with the wait and the code but no token', () => {
    const limited = slackAccessError(
      { code: 'slack_webapi_rate_limited_error', retryAfter: 7 },
      'Opening the form',
    );
    expect(limited).toMatchObject({
      kind: 'unavailable',
      hint: 'Try again in 7 s; nothing was changed.',
      details: { retryAfterSeconds: 7 },
    });
    expect(slackAccessError({ code: 'slack_webapi_http_error', statusCode: 503 })?.kind).toBe('unavailable');
    expect(slackAccessError(platform('restricted_action'))).toMatchObject({
      kind: 'misconfigured',
      details: { slackError: 'restricted_action' },
    });
    expect(slackAccessError(platform('ekm_access_denied'))?.kind).toBe('misconfigured');
    expect(slackAccessError(platform('user_disabled'))?.kind).toBe('not_found');
    expect(slackAccessError(platform('msg_blocks_too_long'))?.kind).toBe('internal');
    expect(slackAccessError(new Error('boom'))).toBeUndefined();
  });
});
