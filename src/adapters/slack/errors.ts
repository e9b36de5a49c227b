// What a failed Web API call means for whoever retries it. @slack/web-api throws with `code`
// (`slack_webapi_platform_error` and Slack's own `data.error`, `slack_webapi_rate_limited_error` with
// `retryAfter` seconds, `slack_webapi_request_error` for the network, `slack_webapi_http_error`).
import { AccessError } from '../../domain/errors.js';

/** Slack's error code of a failed Web API call (`not_in_channel`, …), or undefined for anything else. */
export function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/** Slack answers that go away by themselves; anything else (not_in_channel, invalid_blocks…) will not. */
const TRANSIENT_CODES = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

/** Whether trying the same call again later can succeed: rate limits, network, Slack's 5xx. */
export function isTransientSlackError(error: unknown): boolean {
  const e = error as { code?: unknown; statusCode?: unknown } | undefined;
  if (e?.code === 'slack_webapi_rate_limited_error' || e?.code === 'slack_webapi_request_error') return true;
  if (e?.code === 'slack_webapi_http_error')
    return typeof e.statusCode !== 'number' || e.statusCode >= 500 || e.statusCode === 429;
  const code = slackErrorCode(error);
  return code !== undefined && TRANSIENT_CODES.has(code);
}

/** Slack's Retry-After in milliseconds, when the error is a rate limit that carries one. */
export function retryAfterMs(error: unknown): number | undefined {
  const seconds = (error as { retryAfter?: unknown } | undefined)?.retryAfter;
  return typeof seconds === 'number' && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * Slack refusals a person can act on, in their words: a form that could not open because Slack's
 * 3-second window after the click had passed (a slow moment of ours), or because the click was already
 * used. Undefined for anything else (the caller's usual mapping applies).
 */
export function slackRefusalForPerson(error: unknown): AccessError | undefined {
  switch (slackErrorCode(error)) {
    case 'expired_trigger_id':
      return new AccessError(
        'unavailable',
        'The form could not open: Slack allows 3 seconds after a click, and eks-access took longer this time',
        { hint: 'Click the button again; nothing was changed.', cause: error },
      );
    case 'exchanged_trigger_id':
      return new AccessError('conflict', 'That click already opened its form', {
        hint: 'Use the form that is open, or click the button again.',
        cause: error,
      });
    default:
      return undefined;
  }
}
