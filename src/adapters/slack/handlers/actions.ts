// Buttons on messages, ephemeral lists and App Home. The clicker is the user id of Slack's signed
// payload; a button's value carries a grant id (and, on extension buttons, which ask they show) and
// nothing else, and every service re-reads the grant and re-checks the clicker.
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { namespacePolicyOf } from '../../../domain/decisions.js';
import { toAccessError } from '../../../domain/errors.js';
import { reviewBreakGlass } from '../../../services/break-glass.js';
import { cancelRequest } from '../../../services/cancel.js';
import { decide } from '../../../services/decide.js';
import { endAccess } from '../../../services/end-access.js';
import {
  approveExtension,
  checkMayDecideExtension,
  requestExtension,
} from '../../../services/request-extension.js';
import { ACTIONS, approveModal, deniedModal, extensionWaitingText, noticeModal } from '../blocks.js';
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
      : (m) => deps.messenger.dm(body.user.id, m);

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
      // The form opens first: the trigger id lives three seconds, Redis and usergroups.users.list may
      // take longer. The check follows and, when it refuses, replaces the form with the reason.
      const opened = await client.views.open({
        trigger_id: body.trigger_id,
        view: asView(deniedModal(grantId, responseUrlOf(body), 'extension', undefined, click.asked)),
      });
      const view = opened.view;
      let next: Record<string, unknown>;
      try {
        const asked = await checkMayDecideExtension(deps, grantId, body.user.id, click.asked);
        // Checked again when the reason arrives; the ask it was for rides along in the form.
        next = deniedModal(grantId, responseUrlOf(body), 'extension', asked);
      } catch (error) {
        const e = toAccessError(error);
        if (e.kind === 'internal' || e.kind === 'unavailable') throw error;
        next = noticeModal('Deny extension', `${e.message}${e.hint ? `\n${e.hint}` : ''}`);
      }
      if (!view?.id) return;
      await client.views
        .update({ view_id: view.id, ...(view.hash ? { hash: view.hash } : {}), view: asView(next) })
        .catch((error: unknown) =>
          deps.logger.info({ err: error }, 'Deny form closed before its check finished'),
        );
    });
  });

  app.action<Click>(ACTIONS.extend, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyFor(body, respond);
    await guarded(deps, reply, async () => {
      const outcome = await requestExtension(deps, grantIdOf(action.value), body.user.id);
      if (outcome.kind === 'waiting')
        await reply(
          textMessage(extensionWaitingText(outcome.grant, outcome.grant.extensionRequest?.seconds ?? 0)),
        );
    });
  });

  app.action<Click>(ACTIONS.done, async ({ ack, body, action, respond }) => {
    await ack();
    await guarded(deps, replyFor(body, respond), async () => {
      await endAccess(deps, grantIdOf(action.value), body.user.id, 'done');
    });
  });

  // On the approval message of an active grant: an approver of the namespace ends it (the service
  // refuses anyone else, who gets the reason ephemerally); the requester gets the ended DM.
  app.action<Click>(ACTIONS.revoke, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyFor(body, respond);
    await guarded(deps, reply, async () => {
      const grant = await endAccess(deps, grantIdOf(action.value), body.user.id, 'revoke');
      await reply(textMessage(`Revoking \`${grant.id}\`; access is being removed now.`));
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
      (m) => deps.messenger.dm(body.user.id, m),
      async () => {
        await openRequestForm(deps, client, body.trigger_id, body.user.id);
      },
    );
  });
}
