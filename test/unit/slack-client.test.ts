// The bot's Web API clients meet a 429 by throwing at once, coded, with Slack's Retry-After — never by
// pausing every call of the bot for the wait and retrying for half an hour.
import { webApi } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { listenerClientOptions } from '../../src/adapters/slack/app.js';
import { slackClient } from '../../src/adapters/slack/client.js';
import { slackAccessError } from '../../src/adapters/slack/errors.js';
import { FakeSlack } from '../support/slack/index.js';

describe('Slack clients under a rate limit', () => {
  let slack: FakeSlack | undefined;
  afterEach(() => slack?.close());

  const settings = (fake: FakeSlack) => ({
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_API_URL: fake.apiUrl,
    SLACK_TRANSPORT: 'socket' as const,
  });

  it.each([
    ['the notifier and directory client', (f: FakeSlack) => slackClient(settings(f))],
    [
      "the listeners' client",
      (f: FakeSlack) => new webApi.WebClient(f.botToken, listenerClientOptions(settings(f))),
    ],
  ])('%s throws a coded 429 at once, which reads "try again in N s"', async (_, make) => {
    slack = await FakeSlack.start({ users: [{ id: 'U0ALICE' }] });
    slack.failNext('users.info', 'ratelimited', { retryAfterSeconds: 30 });
    const started = Date.now();
    const error = await make(slack)
      .users.info({ user: 'U0ALICE' })
      .catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error).toMatchObject({ code: 'slack_webapi_rate_limited_error', retryAfter: 30 });
    expect(slackAccessError(error, 'Looking you up')).toMatchObject({
      kind: 'unavailable',
      hint: 'Try again in 30 s; nothing was changed.',
    });
  });
});
