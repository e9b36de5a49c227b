// What a failed Web API call means for whoever retries it. @slack/web-api throws with `code`
// (`slack_webapi_platform_error` and Slack's own `data.error`, `slack_webapi_rate_limited_error` with
// `retryAfter` seconds, `slack_webapi_request_error` for the network, `slack_webapi_http_error`).
import { AccessError } from '../../domain/errors.js';

/** Slack's error code of a failed Web API call (`not_in_channel`, …), or undefined for anything else. */
export function slackErrorCode(error: unknown): string | undefined {
  const data = (error as { data?: { error?: unknown } } | undefined)?.data;
  return typeof data?.error === 'string' ? data.error : undefined;
}

/**
 * Slack answers that go away by themselves (from the methods' documented error lists): rate limits
 * under both of Slack's names (`ratelimited` with HTTP 429, `rate_limited` with HTTP 200 on
 * chat.postMessage), a free workspace's message allowance (`message_limit_exceeded`), Slack's own
 * trouble. Anything else will not change by waiting: `restricted_action` (a workspace preference),
 * `ekm_access_denied` (an admin suspended posting), `is_archived`/`is_inactive`, `user_disabled`,
 * `plan_upgrade_required`, `msg_blocks_too_long`, `not_in_channel`, `invalid_blocks`…
 */
const TRANSIENT_CODES = new Set([
  'ratelimited',
  'rate_limited',
  'message_limit_exceeded',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'team_added_to_org',
]);

/** Refusals only a Slack admin (or an eks-access admin) can lift: the words say who must act. */
const ADMIN_CODES = new Set([
  'not_in_channel',
  'channel_not_found',
  'is_archived',
  'is_inactive',
  'restricted_action',
  'ekm_access_denied',
  'plan_upgrade_required',
  'missing_scope',
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'not_allowed_token_type',
]);

/** Refusals about the person addressed: they left, or never were. */
const PERSON_CODES = new Set(['user_disabled', 'user_not_found', 'users_not_found']);

/** Whether trying the same call again later can succeed: rate limits, network, Slack's 5xx. */
export function isTransientSlackError(error: unknown): boolean {
  const e = error as { code?: unknown; statusCode?: unknown } | undefined;
  if (e?.code === 'slack_webapi_rate_limited_error' || e?.code === 'slack_webapi_request_error') return true;
  if (e?.code === 'slack_webapi_http_error')
    return typeof e.statusCode !== 'number' || e.statusCode >= 500 || e.statusCode === 429;
  const code = slackErrorCode(error);
  return code !== undefined && TRANSIENT_CODES.has(code);
}

/** Slack said "too many" (HTTP 429, or `rate_limited` / `message_limit_exceeded` in the body). */
export function isRateLimited(error: unknown): boolean {
  if ((error as { code?: unknown } | undefined)?.code === 'slack_webapi_rate_limited_error') return true;
  const code = slackErrorCode(error);
  return code === 'ratelimited' || code === 'rate_limited' || code === 'message_limit_exceeded';
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

/**
 * A failed Web API call in the project's vocabulary, or undefined when `error` is not one: transient
 * (429 under either name, 5xx, network) → `unavailable` (details.retryAfterSeconds when Slack said);
 * refusals an admin must lift → `misconfigured`; a person who left → `not_found`; anything else (a
 * message we built that Slack refuses) → `internal`. The Slack code is in details, never a token.
 */
export function slackAccessError(error: unknown, what = 'Slack'): AccessError | undefined {
  const e = error as { code?: unknown } | undefined;
  if (typeof e?.code !== 'string' || !e.code.startsWith('slack_webapi_')) return undefined;
  const code = slackErrorCode(error);
  const retryAfter = (error as { retryAfter?: unknown }).retryAfter;
  const details = {
    slackError: code ?? e.code,
    ...(typeof retryAfter === 'number' ? { retryAfterSeconds: retryAfter } : {}),
  };
  if (isTransientSlackError(error))
    return new AccessError('unavailable', `${what}: Slack is busy or not answering`, {
      hint:
        typeof retryAfter === 'number'
          ? `Try again in ${Math.max(1, retryAfter)} s; nothing was changed.`
          : 'Try again in a minute; nothing was changed.',
      details,
      cause: error,
    });
  if (code !== undefined && ADMIN_CODES.has(code))
    return new AccessError('misconfigured', `${what}: Slack refused (${code})`, {
      hint: 'A Slack admin must act; `eks-access doctor` says what.',
      details,
      cause: error,
    });
  if (code !== undefined && PERSON_CODES.has(code))
    return new AccessError('not_found', `${what}: that person is not in this Slack workspace (${code})`, {
      details,
      cause: error,
    });
  return new AccessError('internal', `${what}: Slack refused (${code ?? e.code})`, { details, cause: error });
}
