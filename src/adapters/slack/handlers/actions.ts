// Buttons on messages, ephemeral lists and App Home. The clicker is the user id of Slack's signed
// payload; a button's value carries a grant id (and, on extension buttons, which ask they show) and
// nothing else, and every service re-reads the grant and re-checks the clicker.
import type { App, BlockAction, ButtonAction, webApi } from '@slack/bolt';
import { reviewBreakGlass } from '../../../bot/break-glass.js';
import { cancelRequest } from '../../../bot/cancel.js';
import { decide } from '../../../bot/decide.js';
import { mustGet } from '../../../bot/deps.js';
import { assertMayEnd, endAccess } from '../../../bot/end-access.js';
import { approveExtension, checkMayDecideExtension, extensionOffer } from '../../../bot/request-extension.js';
import { namespacePolicyOf } from '../../../domain/decisions.js';
import { toAccessError } from '../../../domain/errors.js';
import { ACTIONS, approveModal, deniedModal, extendModal, noticeModal } from '../blocks.js';
import {
  asSlackMessage,
  asView,
  extensionClickOf,
  grantIdOf,
  guarded,
  type ListenerDeps,
  type Reply,
  textMessage,
} from './context.js';
import { openRequestForm } from './request-form.js';

type Click = BlockAction<ButtonAction>;

/** Where a click's answers go later (the Deny form's outcome): its response_url, none from App Home. */
const responseUrlOf = (body: Click) => body.response_url ?? '';

export function registerActions(app: App, deps: ListenerDeps): void {
  /** How to answer a click: in the channel as an ephemeral, or (App Home, modals) by DM. */
  const replyFor = (body: Click, respond: (m: object) => Promise<unknown>): Reply =>
    body.response_url
      ? (m) => respond({ response_type: 'ephemeral', replace_original: false, ...asSlackMessage(m) })
      : (m) => deps.slackNotifier.dm(body.user.id, m);

  app.action<Click>(ACTIONS.approve, async ({ ack, body, action, respond, client }) => {
    await ack();
    const reply = replyFor(body, respond);
    await guarded(deps, reply, async () => {
      const grantId = grantIdOf(action.value);
      const grant = await deps.store.get(grantId);
      const ns = grant ? namespacePolicyOf(deps.policy, grant) : undefined;
      // Where approvers give a reason, Approve opens a form for it (and for a shorter duration).
      if (grant && ns && ns.approvalReason !== 'none') {
        await client.views.open({
          trigger_id: body.trigger_id,
          view: asView(approveModal(grant, ns.approvalReason === 'required', responseUrlOf(body))),
        });
        return;
      }
      const result = await decide(deps, grantId, body.user.id, { kind: 'approve' });
      if (!result.decisive) {
        await reply(
          textMessage(
            `Your approval of \`${result.grant.id}\` is recorded: ${result.grant.approvals.length} of ${result.grant.requiredApprovals}.`,
          ),
        );
      }
    });
  });

  app.action<Click>(ACTIONS.acknowledgeBreakGlass, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyFor(body, respond);
    await guarded(deps, reply, async () => {
      const grant = await reviewBreakGlass(deps, grantIdOf(action.value), body.user.id, 'acknowledged');
      await reply(textMessage(`Acknowledged the break-glass use \`${grant.id}\`.`));
    });
  });

  app.action<Click>(ACTIONS.flagBreakGlass, async ({ ack, body, action, respond, client }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      await client.views.open({
        trigger_id: body.trigger_id,
        view: asView(deniedModal(grantIdOf(action.value), responseUrlOf(body), 'flag')),
      });
    });
  });

  app.action<Click>(ACTIONS.deny, async ({ ack, body, action, respond, client }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      const grantId = grantIdOf(action.value);
      await client.views.open({
        trigger_id: body.trigger_id,
        view: asView(deniedModal(grantId, responseUrlOf(body))),
      });
    });
  });

  app.action<Click>(ACTIONS.approveExtension, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyFor(body, respond);
    await guarded(deps, reply, async () => {
      const { grantId, asked } = extensionClickOf(action.value);
      const result = await approveExtension(deps, grantId, body.user.id, asked);
      await reply(
        textMessage(
          result.kind === 'progress'
            ? `Approved; the extension of \`${grantId}\` has ${result.approvals} of ${result.required} approvals.`
            : `Approved; the new end time of \`${grantId}\` is being applied.`,
        ),
      );
    });
  });

  app.action<Click>(ACTIONS.denyExtension, async ({ ack, body, action, respond, client }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      const click = extensionClickOf(action.value);
      const grantId = click.grantId;
      await openThenCheck(
        deps,
        client,
        body.trigger_id,
        deniedModal(grantId, responseUrlOf(body), 'extension', undefined, click.asked),
        'Deny extension',
        async () => {
          const asked = await checkMayDecideExtension(deps, grantId, body.user.id, click.asked);
          // Checked again when the reason arrives; the ask it was for rides along in the form.
          return deniedModal(grantId, responseUrlOf(body), 'extension', asked);
        },
      );
    });
  });

  // Extend (App Home, the expiry warning) opens a form with the durations the level allows now.
  app.action<Click>(ACTIONS.extend, async ({ ack, body, action, respond, client }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      const grantId = grantIdOf(action.value);
      await openThenCheck(
        deps,
        client,
        body.trigger_id,
        noticeModal('Extend access', `Looking up how much more \`${grantId}\` may have…`),
        'Extend access',
        async () => {
          const offer = await extensionOffer(deps, grantId, body.user.id);
          return extendModal(offer.grant, offer, responseUrlOf(body), deps.clock.now());
        },
      );
    });
  });

  app.action<Click>(ACTIONS.done, async ({ ack, body, action, respond }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      await endAccess(deps, grantIdOf(action.value), body.user.id, 'done');
    });
  });

  // On the approval message of an active grant, after Slack's confirm: a form asks the approver why
  // (the person who loses access is told). A clicker who may not revoke is told so instead of the form.
  app.action<Click>(ACTIONS.revoke, async ({ ack, body, action, respond, client }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      const grantId = grantIdOf(action.value);
      const form = deniedModal(grantId, responseUrlOf(body), 'revoke');
      await openThenCheck(deps, client, body.trigger_id, form, 'Revoke access', async () => {
        await assertMayEnd(deps, await mustGet(deps.store, grantId), body.user.id, 'revoke');
        return undefined;
      });
    });
  });

  app.action<Click>(ACTIONS.cancel, async ({ ack, body, action, respond }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      await cancelRequest(deps, grantIdOf(action.value), body.user.id);
    });
  });

  app.action<Click>(ACTIONS.openRequest, async ({ ack, body, client }) => {
    await ack();
    await guarded(
      deps,
      (m) => deps.slackNotifier.dm(body.user.id, m),
      async () => {
        await openRequestForm(deps, client, body.trigger_id, body.user.id);
      },
    );
  });
}

/**
 * Opens `first` at once (a trigger id lives three seconds; Redis and usergroups.users.list may take
 * longer), then runs the check: a refusal replaces the form with its reason, a form it returns
 * replaces `first`, undefined keeps `first`.
 */
async function openThenCheck(
  deps: ListenerDeps,
  client: webApi.WebClient,
  triggerId: string,
  first: Record<string, unknown>,
  title: string,
  check: () => Promise<Record<string, unknown> | undefined>,
): Promise<void> {
  const opened = await client.views.open({ trigger_id: triggerId, view: asView(first) });
  const view = opened.view;
  let next: Record<string, unknown> | undefined;
  try {
    next = await check();
  } catch (error) {
    const e = toAccessError(error);
    if (e.kind === 'internal' || e.kind === 'unavailable') throw error;
    next = noticeModal(title, `${e.message}${e.hint ? `\n${e.hint}` : ''}`);
  }
  if (!view?.id || !next) return;
  await client.views
    .update({ view_id: view.id, ...(view.hash ? { hash: view.hash } : {}), view: asView(next) })
    .catch((error: unknown) => deps.logger.info({ err: error }, 'form closed before its check finished'));
}
