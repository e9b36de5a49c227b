// Wires every Slack handler into a Bolt App, laid out the way Bolt apps usually are: slash commands,
// block actions, view submissions, shortcuts, events. Each handler acks first (Slack's 3-second rule), parses,
// calls one use case in src/bot/ and renders.
import type { App } from '@slack/bolt';
import { registerActions } from './actions.js';
import { registerCommands } from './commands.js';
import type { ListenerDeps } from './context.js';
import { registerEvents } from './events.js';
import { registerNamespaceSearch, registerRequestFormChoices } from './request-form.js';
import { registerShortcuts } from './shortcuts.js';
import { registerViews } from './views.js';

export { SLASH_COMMAND } from './commands.js';
export type { ListenerDeps } from './context.js';

export function registerListeners(app: App, deps: ListenerDeps): void {
  registerCommands(app, deps);
  registerActions(app, deps);
  registerRequestFormChoices(app, deps);
  registerNamespaceSearch(app, deps);
  registerViews(app, deps);
  registerShortcuts(app, deps);
  registerEvents(app, deps);
}
