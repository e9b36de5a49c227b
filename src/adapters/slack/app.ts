// Builds the Bolt App for either transport (the Web API client the worker shares is ./client.ts). Socket
// Mode is the default (no public URL); HTTP mode uses Bolt's HTTPReceiver, which checks the v0 signature
// and refuses requests whose timestamp is more than five minutes off.
import { App, type Logger as BoltLogger, type LogLevel } from '@slack/bolt';
import type { Logger } from '../logger.js';
import { apiOptions, type SlackSettings } from './client.js';
import { type ListenerDeps, registerListeners } from './handlers/register.js';

/** Bolt logs through our pino logger (and its redaction). */
export function boltLogger(logger: Logger): BoltLogger {
  let level = 'info' as LogLevel;
  return {
    debug: (...msg) => logger.debug(msg.map(String).join(' ')),
    info: (...msg) => logger.info(msg.map(String).join(' ')),
    warn: (...msg) => logger.warn(msg.map(String).join(' ')),
    error: (...msg) => logger.error(msg.map(String).join(' ')),
    setLevel: (l) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

/**
 * The listeners' client: a 429 is thrown at once, coded (`slack_webapi_rate_limited_error` with
 * `retryAfter`), and becomes "try again in N s" (errors.ts). The SDK's default would instead pause
 * every call of the bot for Retry-After and retry for up to half an hour — past Slack's 3 s for a
 * form, with every other person's click queued behind it.
 */
export const listenerClientOptions = (env: SlackSettings) => ({
  ...apiOptions(env),
  rejectRateLimitedCalls: true,
  retryConfig: { retries: 2 },
});

export function createSlackApp(env: SlackSettings, deps: ListenerDeps): App {
  const clientOptions = listenerClientOptions(env);
  const logger = boltLogger(deps.logger.child({ component: 'bolt' }));
  const app =
    env.SLACK_TRANSPORT === 'http'
      ? new App({
          token: env.SLACK_BOT_TOKEN,
          signingSecret: env.SLACK_SIGNING_SECRET ?? '',
          clientOptions,
          logger,
        })
      : new App({
          token: env.SLACK_BOT_TOKEN,
          appToken: env.SLACK_APP_TOKEN ?? '',
          socketMode: true,
          clientOptions,
          // Socket Mode's own connection calls keep the SDK's patient defaults.
          installerOptions: { clientOptions: apiOptions(env) },
          logger,
        });
  app.error(async (error) => {
    deps.logger.error({ err: error }, 'unhandled error in a Slack listener');
  });
  registerListeners(app, deps);
  return app;
}
