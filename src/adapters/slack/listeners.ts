// Bolt listeners: ack first (Slack's 3-second rule), parse, call one service, render. The clicker is
// always the user id of Slack's signed payload; button values carry a grant id (and, on extension
// buttons, which ask they show) and nothing else.
import type { App, webApi } from '@slack/bolt';
import {
  type ExtensionAsk,
  identityFromMap,
  identityMapEntry,
  requestableNamespaces,
  requestFieldOf,
  resolveRequest,
} from '../../domain/decisions.js';
import { badInput, toAccessError } from '../../domain/errors.js';
import { EXTENSION_ID, GRANT_ID } from '../../domain/grant.js';
import { humanTime } from '../../domain/text.js';
import { cancelRequest, endAccess } from '../../services/cancel.js';
import { decide } from '../../services/decide.js';
import type { FlowDeps } from '../../services/deps.js';
import { extensionsWaitingFor, homeFor, waitingFor } from '../../services/home.js';
import {
  approveExtension,
  checkMayDecideExtension,
  denyExtension,
  requestExtension,
} from '../../services/request-extension.js';
import { previewRequest, submitRequest } from '../../services/submit.js';
import type { Logger } from '../logger.js';
import {
  ACTIONS,
  approvalsMessage,
  DENY_EXTENSION_MODAL,
  DENY_MODAL,
  deniedModal,
  errorMessage,
  extensionApplyingText,
  extensionWaitingText,
  helpMessage,
  listMessage,
  type Message,
  noticeModal,
  planSummary,
  section,
  whoamiMessage,
  windowWords,
} from './blocks.js';
import { parseCommand } from './grammar.js';
import {
  MODAL_ACTIONS,
  type ModalState,
  normalizeState,
  REQUEST_MODAL,
  readModalState,
  requestModal,
} from './modal.js';
import type { SlackNotifier } from './notifier.js';

export const SLASH_COMMAND = '/eks-access';

export interface ListenerDeps extends FlowDeps {
  /** Direct messages and App Home; `notifier` (from FlowDeps) reports state changes and may be decorated. */
  messenger: SlackNotifier;
  logger: Logger;
}

type Reply = (message: Message) => Promise<unknown>;

const textMessage = (text: string): Message => ({ text, blocks: [section(text)] });

export function registerListeners(app: App, deps: ListenerDeps): void {
  const { logger } = deps;

  /** Runs a use case after the ack; any failure becomes an ephemeral refusal in the user's words. */
  async function guarded(reply: Reply, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      const accessError = toAccessError(error);
      if (accessError.kind === 'internal' || accessError.kind === 'unavailable') {
        logger.error({ err: error }, 'slack listener failed');
      }
      await reply(errorMessage(accessError)).catch((e: unknown) =>
        logger.warn({ err: e }, 'could not reply'),
      );
    }
  }

  app.command(SLASH_COMMAND, async ({ command, ack, respond, client }) => {
    await ack();
    const user = command.user_id;
    const reply: Reply = (m) => respond({ response_type: 'ephemeral', ...m });
    await guarded(reply, async () => {
      const parsed = parseCommand(command.text ?? '');
      switch (parsed.kind) {
        case 'help':
          await reply(helpMessage());
          return;
        case 'request-modal':
          await openRequestForm(client, command.trigger_id, user);
          return;
        case 'request': {
          const { kind: _, ...input } = parsed;
          const result = await submitRequest(deps, user, input);
          const g = result.grant;
          await reply(
            textMessage(
              result.autoApproved
                ? `:white_check_mark: \`${g.id}\`: \`${g.level}\` in \`${g.namespace}\` on \`${g.cluster}\` was approved by policy; you will get a DM with the commands ${g.startsAt === undefined ? 'in a moment' : `when the window opens (${humanTime(g.startsAt)})`}.`
                : `:hourglass_flowing_sand: Requested \`${g.id}\`: \`${g.level}\` in \`${g.namespace}\` on \`${g.cluster}\` ${windowWords(g) ?? `for ${input.duration ?? 'the default time'}`}. It needs ${g.requiredApprovals} approval(s)${g.startsAt === undefined ? '' : ' before the window opens'}; you will get a DM when it is decided.`,
            ),
          );
          return;
        }
        case 'list':
          await reply(listMessage(await homeFor(deps, user)));
          return;
        case 'approvals':
          await reply(
            approvalsMessage(
              await waitingFor(deps, user),
              deps.clock.now(),
              await extensionsWaitingFor(deps, user),
            ),
          );
          return;
        case 'whoami': {
          const profile = await deps.directory.profile(user);
          const choices = requestableNamespaces(deps.policy).map(({ cluster, namespace }) => {
            const ns = deps.policy.clusters[cluster]?.namespaces.find((n) => n.name === namespace);
            return `\`${namespace}\` on \`${cluster}\` as ${ns?.levels.map((l) => `\`${l}\``).join(', ')}`;
          });
          try {
            await reply(whoamiMessage(user, await deps.identity.principalFor(profile), undefined, choices));
          } catch (error) {
            const e = toAccessError(error);
            await reply(whoamiMessage(user, undefined, `${e.message}. ${e.hint ?? ''}`, choices));
          }
          return;
        }
        case 'cancel':
          await cancelRequest(deps, parsed.id, user);
          await reply(textMessage(`Cancelled \`${parsed.id}\`.`));
          return;
        case 'done':
        case 'revoke':
          await endAccess(deps, parsed.id, user, parsed.kind);
          await reply(textMessage(`Ending \`${parsed.id}\`; access is being removed now.`));
          return;
        case 'extend': {
          const outcome = await requestExtension(deps, parsed.id, user, parsed.duration);
          await reply(
            textMessage(
              outcome.kind === 'applying'
                ? extensionApplyingText(outcome.grant, outcome.extension.seconds)
                : extensionWaitingText(outcome.grant, outcome.grant.extensionRequest?.seconds ?? 0),
            ),
          );
          return;
        }
      }
    });
  });

  /** How to answer a click: in the channel as an ephemeral, or (App Home, modals) by DM. */
  function replyForAction(
    body: { user: { id: string }; response_url?: string },
    respond: (m: object) => Promise<unknown>,
  ): Reply {
    if (body.response_url)
      return (m) => respond({ response_type: 'ephemeral', replace_original: false, ...m });
    return (m) => deps.messenger.dm(body.user.id, m);
  }

  function grantIdOf(value: string | undefined): string {
    // Tampered values are refused before anything is read.
    if (!value || !GRANT_ID.test(value))
      throw badInput('That button does not name a request', 'Use the buttons eks-access posted.');
    return value;
  }

  const clickOf = (action: unknown) => (action as { value?: string }).value;

  /**
   * Extension buttons carry `<grant id>/<extension id>` (or, for asks recorded before ids, the time it
   * was asked): the click decides the ask its approver saw, never a newer one.
   */
  function extensionClickOf(value: string | undefined): { grantId: string; asked: ExtensionAsk } {
    const [grant, ref] = (value ?? '').split('/', 2);
    const grantId = grantIdOf(grant);
    if (ref && EXTENSION_ID.test(ref)) return { grantId, asked: { id: ref } };
    if (ref && /^\d{1,15}$/.test(ref)) return { grantId, asked: { at: Number(ref) } };
    return { grantId, asked: {} };
  }

  app.action(ACTIONS.approve, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyForAction(body as never, respond as never);
    await guarded(reply, async () => {
      const result = await decide(deps, grantIdOf(clickOf(action)), body.user.id, { kind: 'approve' });
      if (!result.decisive) {
        await reply(
          textMessage(
            `Your approval of \`${result.grant.id}\` is recorded: ${result.grant.approvals.length} of ${result.grant.requiredApprovals}.`,
          ),
        );
      }
    });
  });

  app.action(ACTIONS.deny, async ({ ack, body, action, respond, client }) => {
    await ack();
    const reply = replyForAction(body as never, respond as never);
    await guarded(reply, async () => {
      const grantId = grantIdOf(clickOf(action));
      await client.views.open({
        trigger_id: (body as { trigger_id: string }).trigger_id,
        view: deniedModal(grantId, responseUrlOf(body)) as never,
      });
    });
  });

  /** Where a click's answers go later (the Deny form's outcome): its response_url, none from App Home. */
  const responseUrlOf = (body: unknown) => (body as { response_url?: string }).response_url ?? '';

  // Denying a request or an extension asks the reason the same way; the service re-checks the clicker.
  const denials = [
    [
      DENY_MODAL,
      (id: string, who: string, reason: string, _meta: Meta) =>
        decide(deps, id, who, { kind: 'deny', reason }),
    ],
    [
      DENY_EXTENSION_MODAL,
      (id: string, who: string, reason: string, meta: Meta) =>
        denyExtension(deps, id, who, reason, meta.asked ?? meta.clicked),
    ],
  ] as const;
  for (const [callbackId, deny] of denials) {
    app.view(callbackId, async ({ ack, body, view, client }) => {
      const reason = view.state.values['reason']?.['value']?.value?.trim() ?? '';
      if (reason === '') {
        await ack({
          response_action: 'errors',
          errors: { reason: 'Say why, so the requester knows what to change.' },
        });
        return;
      }
      await ack();
      const meta = parseMeta(view.private_metadata);
      const reply = responseUrlOrDm(meta.responseUrl, body.user.id);
      await guarded(reply, async () => {
        await deny(grantIdOf(meta.grantId), body.user.id, reason, meta);
      });
    });
  }

  /**
   * Answers through the clicked message's response_url: it reaches the clicker in any channel, also
   * under an ephemeral list, where chat.postEphemeral needs the bot in the channel. A DM otherwise.
   */
  function responseUrlOrDm(responseUrl: string | undefined, user: string): Reply {
    const dm: Reply = (m) => deps.messenger.dm(user, m);
    if (!responseUrl) return dm;
    return async (m) => {
      const answered = await fetch(responseUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ response_type: 'ephemeral', replace_original: false, ...m }),
        signal: AbortSignal.timeout(5_000),
      }).then(
        (response) => response.ok,
        () => false,
      );
      // Expired (30 min) or used up (5 posts): the answer still arrives, by DM.
      if (!answered) await dm(m);
    };
  }

  app.action(ACTIONS.approveExtension, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyForAction(body as never, respond as never);
    await guarded(reply, async () => {
      const { grantId, asked } = extensionClickOf(clickOf(action));
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

  app.action(ACTIONS.denyExtension, async ({ ack, body, action, respond, client }) => {
    await ack();
    const reply = replyForAction(body as never, respond as never);
    await guarded(reply, async () => {
      const click = extensionClickOf(clickOf(action));
      const grantId = click.grantId;
      // The form opens first: the trigger id lives three seconds, Redis and usergroups.users.list may
      // take longer. The check follows and, when it refuses, replaces the form with the reason.
      const opened = await client.views.open({
        trigger_id: (body as { trigger_id: string }).trigger_id,
        view: deniedModal(grantId, responseUrlOf(body), 'extension', undefined, click.asked) as never,
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
        .update({ view_id: view.id, ...(view.hash ? { hash: view.hash } : {}), view: next as never })
        .catch((error: unknown) => logger.info({ err: error }, 'Deny form closed before its check finished'));
    });
  });

  app.action(ACTIONS.extend, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyForAction(body as never, respond as never);
    await guarded(reply, async () => {
      const outcome = await requestExtension(deps, grantIdOf(clickOf(action)), body.user.id);
      if (outcome.kind === 'waiting')
        await reply(
          textMessage(extensionWaitingText(outcome.grant, outcome.grant.extensionRequest?.seconds ?? 0)),
        );
    });
  });

  app.action(ACTIONS.done, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyForAction(body as never, respond as never);
    await guarded(reply, async () => {
      await endAccess(deps, grantIdOf(clickOf(action)), body.user.id, 'done');
    });
  });

  app.action(ACTIONS.cancel, async ({ ack, body, action, respond }) => {
    await ack();
    const reply = replyForAction(body as never, respond as never);
    await guarded(reply, async () => {
      await cancelRequest(deps, grantIdOf(clickOf(action)), body.user.id);
    });
  });

  app.action(ACTIONS.openRequest, async ({ ack, body, client }) => {
    await ack();
    await guarded(responseUrlOrDm(undefined, body.user.id), async () => {
      await openRequestForm(client, (body as { trigger_id: string }).trigger_id, body.user.id);
    });
  });

  /**
   * Opens the form at once (the trigger id lives three seconds), then, when the policy already
   * determines a namespace, fills in the dry run, which needs Slack's profile and maybe IAM.
   */
  async function openRequestForm(client: webApi.WebClient, triggerId: string, user: string) {
    const opened = await client.views.open({
      trigger_id: triggerId,
      view: requestModal(deps.policy, {}, undefined) as never,
    });
    const view = opened.view;
    if (!view?.id || !normalizeState(deps.policy, {}).namespace) return;
    await client.views
      .update({
        view_id: view.id,
        ...(view.hash ? { hash: view.hash } : {}),
        view: (await form(user, {})) as never,
      })
      .catch((error: unknown) => logger.info({ err: error }, 'form changed before the preview arrived'));
  }

  /** The form for these choices, with the dry run of what they would create. */
  async function form(user: string, state: ModalState) {
    const chosen = normalizeState(deps.policy, state);
    return requestModal(deps.policy, chosen, await modalPreview(user, chosen));
  }

  // Dependent choices: a changed cluster, namespace or level re-renders the modal in place.
  for (const id of [MODAL_ACTIONS.cluster, MODAL_ACTIONS.namespace, MODAL_ACTIONS.level]) {
    app.action(id, async ({ ack, body, client }) => {
      await ack();
      const view = (body as { view?: { id: string; hash: string; state?: { values?: never } } }).view;
      if (!view) return;
      await client.views
        .update({
          view_id: view.id,
          hash: view.hash,
          view: (await form(body.user.id, readModalState(view.state?.values))) as never,
        })
        .catch((error: unknown) => logger.info({ err: error }, 'modal changed again before our update'));
    });
  }

  async function modalPreview(user: string, state: ModalState): Promise<string | undefined> {
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

  app.view(REQUEST_MODAL, async ({ ack, body, view }) => {
    const state = readModalState(view.state.values as never);
    // Validation is pure and fast, so it happens before the ack and shows next to the field.
    try {
      resolveRequest(deps.policy, { ...state, namespace: state.namespace ?? '' }, deps.clock.now());
    } catch (error) {
      const e = toAccessError(error);
      const field = MODAL_ACTIONS[requestFieldOf(e.details) ?? 'namespace'];
      await ack({
        response_action: 'errors',
        errors: { [field]: `${e.message}. ${e.hint ?? ''}`.slice(0, 150) },
      });
      return;
    }
    const user = body.user.id;
    // From the explicit map, an unlinked person is known at once: say so on the form, before it closes.
    // With the email lookup (an IAM walk that can outlast Slack's 3 s) the answer comes by DM instead.
    if (identityFromMap(deps.policy, user) === 'unlinked') {
      await ack({
        response_action: 'errors',
        errors: {
          [MODAL_ACTIONS.cluster]: `Your Slack account is not linked to AWS: an admin must add ${identityMapEntry(user)}.`,
        },
      });
      return;
    }
    await ack();
    await guarded(
      (m) => deps.messenger.dm(user, m),
      async () => {
        const result = await submitRequest(deps, user, { ...state, namespace: state.namespace ?? '' });
        await deps.messenger.dm(
          user,
          textMessage(
            `Requested \`${result.grant.id}\`: \`${result.grant.level}\` in \`${result.grant.namespace}\` on \`${result.grant.cluster}\`. You will get a message when it is decided.`,
          ),
        );
      },
    );
  });

  app.event('app_home_opened', async ({ event }) => {
    if (event.tab !== 'home') return;
    await deps.messenger
      .publishHome(event.user)
      .catch((error: unknown) => logger.warn({ err: error }, 'could not publish App Home'));
  });
}

/** A Deny form's metadata (our own, returned in Slack's signed payload); `asked` only words a lost race. */
interface Meta {
  grantId?: string;
  /** The clicked message's response_url, where the outcome is answered. */
  responseUrl?: string;
  /** The ask the Deny extension button named, until the check fills in `asked`. */
  clicked?: { id?: string; at?: number };
  asked?: { id?: string; by: string; seconds: number; at: number };
}

function parseMeta(text: string): Meta {
  try {
    const parsed = JSON.parse(text) as {
      grantId?: unknown;
      responseUrl?: unknown;
      asked?: unknown;
      clicked?: { id?: unknown; at?: unknown };
    };
    const clicked = parsed.clicked;
    const asked = parsed.asked as { id?: unknown; by?: unknown; seconds?: unknown; at?: unknown } | undefined;
    return {
      ...(typeof parsed.grantId === 'string' ? { grantId: parsed.grantId } : {}),
      ...(typeof clicked?.id === 'string' && EXTENSION_ID.test(clicked.id)
        ? { clicked: { id: clicked.id } }
        : typeof clicked?.at === 'number'
          ? { clicked: { at: clicked.at } }
          : {}),
      ...(typeof parsed.responseUrl === 'string' && /^https?:\/\//.test(parsed.responseUrl)
        ? { responseUrl: parsed.responseUrl }
        : {}),
      ...(asked &&
      typeof asked.by === 'string' &&
      typeof asked.seconds === 'number' &&
      typeof asked.at === 'number'
        ? {
            asked: {
              ...(typeof asked.id === 'string' && EXTENSION_ID.test(asked.id) ? { id: asked.id } : {}),
              by: asked.by,
              seconds: asked.seconds,
              at: asked.at,
            },
          }
        : {}),
    };
  } catch {
    return {};
  }
}
