// Events Slack pushes without a click: App Home opened.
import type { App } from '@slack/bolt';
import type { ListenerDeps } from './context.js';

export function registerEvents(app: App, deps: ListenerDeps): void {
  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    await deps.slackNotifier
      .publishHome(event.user)
      .catch((error: unknown) => deps.logger.warn({ err: error }, 'could not publish App Home'));
  });
}
