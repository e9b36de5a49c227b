// The request form, shared by `/eks-access request`, the App Home button and the global shortcut:
// opened at once (a trigger id lives three seconds), then re-rendered in place as choices change.
import type { App, BlockAction, StaticSelectAction, webApi } from '@slack/bolt';
import { autoApproveGroupsFor, previewRequest } from '../../../bot/submit.js';
import { toAccessError } from '../../../domain/errors.js';
import { planSummary } from '../blocks.js';
import {
  MODAL_ACTIONS,
  type ModalState,
  namespaceOptions,
  normalizeState,
  readModalState,
  requestModal,
} from '../modal.js';
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

/**
 * Dependent choices: a changed cluster, namespace, level or duration re-renders the modal in place
 * (the duration decides whether an auto-approve rule covers the request).
 */
export function registerRequestFormChoices(app: App, deps: ListenerDeps): void {
  for (const id of [
    MODAL_ACTIONS.cluster,
    MODAL_ACTIONS.namespace,
    MODAL_ACTIONS.level,
    MODAL_ACTIONS.duration,
  ]) {
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

/**
 * The namespace search of a form whose cluster has more namespaces than a static select shows: Slack
 * asks for options as the person types (block_suggestion) and shows what the ack carries. The cluster
 * is the one chosen on the form (its state, or what the form was rendered with).
 */
export function registerNamespaceSearch(app: App, deps: ListenerDeps): void {
  app.options<'block_suggestion'>({ action_id: MODAL_ACTIONS.namespace }, async ({ ack, body }) => {
    const view = body.view;
    const chosen = readModalState(view?.state.values).cluster ?? renderedCluster(view?.private_metadata);
    const cluster = normalizeState(deps.policy, { cluster: chosen }).cluster;
    await ack({ options: namespaceOptions(deps.policy, cluster, body.value ?? '') });
  });
}

/** The cluster a form was rendered for (our own metadata, returned in Slack's signed payload). */
function renderedCluster(metadata: string | undefined): string | undefined {
  try {
    const parsed = JSON.parse(metadata ?? '{}') as { cluster?: unknown };
    return typeof parsed.cluster === 'string' ? parsed.cluster : undefined;
  } catch {
    return undefined;
  }
}

/** The form for these choices, with the dry run of what they would create and what it needs. */
async function form(deps: ListenerDeps, user: string, state: ModalState) {
  const chosen = normalizeState(deps.policy, state);
  const { cluster, namespace } = chosen;
  // Who a rule covers is a Slack lookup; should it fail, the form shows the count without the rule.
  const memberOfGroups =
    cluster && namespace
      ? await autoApproveGroupsFor(deps, user, { cluster, namespace }).catch(() => [])
      : [];
  return requestModal(deps.policy, chosen, await modalPreview(deps, user, chosen), {
    slackUserId: user,
    memberOfGroups,
  });
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
