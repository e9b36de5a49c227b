// The request form, shared by `/eks-access request`, the App Home button and the global shortcut:
// opened at once (a trigger id lives three seconds), then re-rendered in place as choices change.
import type { App, BlockAction, StaticSelectAction, webApi } from '@slack/bolt';
import { toAccessError } from '../../../domain/errors.js';
import { previewRequest } from '../../../services/submit.js';
import { planSummary } from '../blocks.js';
import { MODAL_ACTIONS, type ModalState, normalizeState, readModalState, requestModal } from '../modal.js';
import { asView, type ListenerDeps } from './context.js';

/**
 * Opens the form at once, then, when the policy already determines a namespace, fills in the dry
 * run, which needs Slack's profile and maybe IAM.
 */
export async function openRequestForm(
  deps: ListenerDeps,
  client: webApi.WebClient,
  triggerId: string,
  user: string,
): Promise<void> {
  const opened = await client.views.open({
    trigger_id: triggerId,
    view: asView(requestModal(deps.policy, {}, undefined)),
  });
  const view = opened.view;
  if (!view?.id || !normalizeState(deps.policy, {}).namespace) return;
  await client.views
    .update({
      view_id: view.id,
      ...(view.hash ? { hash: view.hash } : {}),
      view: asView(await form(deps, user, {})),
    })
    .catch((error: unknown) => deps.logger.info({ err: error }, 'form changed before the preview arrived'));
}

/** Dependent choices: a changed cluster, namespace or level re-renders the modal in place. */
export function registerRequestFormChoices(app: App, deps: ListenerDeps): void {
  for (const id of [MODAL_ACTIONS.cluster, MODAL_ACTIONS.namespace, MODAL_ACTIONS.level]) {
    app.action<BlockAction<StaticSelectAction>>(id, async ({ ack, body, client }) => {
      await ack();
      const view = body.view;
      if (!view) return;
      await client.views
        .update({
          view_id: view.id,
          hash: view.hash,
          view: asView(await form(deps, body.user.id, readModalState(view.state.values))),
        })
        .catch((error: unknown) => deps.logger.info({ err: error }, 'modal changed again before our update'));
    });
  }
}

/** The form for these choices, with the dry run of what they would create. */
async function form(deps: ListenerDeps, user: string, state: ModalState) {
  const chosen = normalizeState(deps.policy, state);
  return requestModal(deps.policy, chosen, await modalPreview(deps, user, chosen));
}

async function modalPreview(
  deps: ListenerDeps,
  user: string,
  state: ModalState,
): Promise<string | undefined> {
  if (!state.namespace) return undefined;
  try {
    const { plan } = await previewRequest(deps, user, {
      ...state,
      namespace: state.namespace,
      reason: 'preview',
    });
    return planSummary(plan);
  } catch (error) {
    const e = toAccessError(error);
    return `:warning: ${e.message}${e.hint ? ` — ${e.hint}` : ''}`;
  }
}
