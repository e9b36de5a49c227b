// The Slack Web API client the notifier, the directory and the outbox use, in the bot and in the worker.
// Imported from @slack/web-api, not through Bolt: the worker never takes Slack traffic, and Bolt's index
// loads its receivers (Express, Socket Mode with undici, OAuth with jsonwebtoken), ~5-14 MB of RSS the
// worker would hold for nothing (bench/deps.ts). Bolt re-exports this same package as `webApi`.
import { WebClient } from '@slack/web-api';
import type { Env } from '../../config/env.js';

export type SlackSettings = Pick<
  Env,
  'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN' | 'SLACK_SIGNING_SECRET' | 'SLACK_TRANSPORT' | 'SLACK_API_URL'
>;

export const apiOptions = (env: SlackSettings) =>
  env.SLACK_API_URL ? { slackApiUrl: env.SLACK_API_URL } : {};

/**
 * A Web API client for the notifier and the directory (bot and worker); the token never leaves this
 * object. It rejects rate-limited calls at once, coded (`slack_webapi_rate_limited_error` with
 * `retryAfter`): the outbox schedules the retry after Retry-After, a person is told to try again in
 * N s (errors.ts). The SDK's default would pause every call of this client for Retry-After and retry
 * for half an hour. `waitOnRateLimits`: that default, for the weekly summary, a lone job with no
 * retries of its own and nobody waiting on it.
 */
export function slackClient(env: SlackSettings, options: { waitOnRateLimits?: boolean } = {}): WebClient {
  return new WebClient(env.SLACK_BOT_TOKEN, {
    ...apiOptions(env),
    retryConfig: { retries: 2 },
    ...(options.waitOnRateLimits ? {} : { rejectRateLimitedCalls: true }),
  });
}
