// Global shortcuts (the lightning-bolt menu and the search bar): "Request EKS access" opens the same
// request form as `/eks-access request`. The callback id is declared in both manifests.
import type { App, GlobalShortcut } from '@slack/bolt';
import { guarded, type ListenerDeps, responseUrlOrDm } from './context.js';
import { openRequestForm } from './request-form.js';

export const REQUEST_SHORTCUT = 'request_access';

export function registerShortcuts(app: App, deps: ListenerDeps): void {
  app.shortcut<GlobalShortcut>(REQUEST_SHORTCUT, async ({ ack, shortcut, client }) => {
    await ack();
    // A shortcut has no channel and no response_url: a failure is answered by DM.
    await guarded(deps, responseUrlOrDm(deps, undefined, shortcut.user.id), async () => {
      await openRequestForm(deps, client, shortcut.trigger_id, shortcut.user.id);
    });
  });
}
