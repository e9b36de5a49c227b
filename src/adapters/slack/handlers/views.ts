// Modal submissions: the Deny forms (a request, an extension) and the request form.
import type { App } from '@slack/bolt';
import { reviewBreakGlass } from '../../../bot/break-glass.js';
import { decide } from '../../../bot/decide.js';
import { endAccess } from '../../../bot/end-access.js';
import { denyExtension, requestExtension } from '../../../bot/request-extension.js';
import { submitRequest } from '../../../bot/submit.js';
import {
  identityFromMap,
  identityMapEntry,
  namespacePolicyOf,
  requestFieldOf,
  resolveRequest,
} from '../../../domain/decisions.js';
import { formatDuration } from '../../../domain/duration.js';
import { toAccessError } from '../../../domain/errors.js';
import { EXTENSION_ID } from '../../../domain/grant.js';
import {
  APPROVE_MODAL,
  DENY_EXTENSION_MODAL,
  DENY_MODAL,
  EXTEND_MODAL,
  extensionOutcomeText,
  FLAG_MODAL,
  REVOKE_MODAL,
  requestedText,
} from '../blocks.js';
import { MODAL_ACTIONS, REQUEST_MODAL, readModalState } from '../modal.js';
import { grantIdOf, guarded, type ListenerDeps, responseUrlOrDm, textMessage } from './context.js';

export function registerViews(app: App, deps: ListenerDeps): void {
  // Denying a request or an extension, flagging a break-glass use and revoking access ask the reason
  // the same way; the service re-checks the clicker. What `act` returns is said to the clicker.
  const reasonForms: readonly {
    callbackId: string;
    /** Said next to the empty field. */
    empty: string;
    act: (id: string, who: string, reason: string, meta: Meta) => Promise<string | undefined>;
  }[] = [
    {
      callbackId: DENY_MODAL,
      empty: 'Say why, so the requester knows what to change.',
      act: async (id, who, reason) => {
        await decide(deps, id, who, { kind: 'deny', reason });
        return undefined;
      },
    },
    {
      callbackId: FLAG_MODAL,
      empty: 'Say why, so the requester knows what to change.',
      act: async (id, who, reason) => {
        await reviewBreakGlass(deps, id, who, 'flagged', reason);
        return undefined;
      },
    },
    {
      callbackId: DENY_EXTENSION_MODAL,
      empty: 'Say why, so the requester knows what to change.',
      act: async (id, who, reason, meta) => {
        await denyExtension(deps, id, who, reason, meta.asked ?? meta.clicked);
        return undefined;
      },
    },
    {
      callbackId: REVOKE_MODAL,
      empty: 'Say why, so the person who loses access knows.',
      act: async (id, who, reason) => {
        const grant = await endAccess(deps, id, who, 'revoke', reason);
        return `Revoking \`${grant.id}\`; access is being removed now, and <@${grant.requester.slackUserId}> is told your reason.`;
      },
    },
  ];
  for (const form of reasonForms) {
    app.view(form.callbackId, async ({ ack, body, view }) => {
      const reason = view.state.values['reason']?.['value']?.value?.trim() ?? '';
      if (reason === '') {
        await ack({ response_action: 'errors', errors: { reason: form.empty } });
        return;
      }
      await ack();
      const meta = parseMeta(view.private_metadata);
      const reply = responseUrlOrDm(deps, meta.responseUrl, body.user.id);
      await guarded(deps, reply, async () => {
        const said = await form.act(grantIdOf(meta.grantId), body.user.id, reason, meta);
        if (said) await reply(textMessage(said));
      });
    });
  }

  // The Extend form: the duration chosen goes the way `extend <id> for <duration>` goes.
  app.view(EXTEND_MODAL, async ({ ack, body, view }) => {
    const seconds = Number(view.state.values['duration']?.['value']?.selected_option?.value);
    if (!Number.isFinite(seconds) || seconds <= 0) {
      await ack({ response_action: 'errors', errors: { duration: 'Choose how much more time you need.' } });
      return;
    }
    await ack();
    const meta = parseMeta(view.private_metadata);
    const reply = responseUrlOrDm(deps, meta.responseUrl, body.user.id);
    await guarded(deps, reply, async () => {
      const outcome = await requestExtension(
        deps,
        grantIdOf(meta.grantId),
        body.user.id,
        formatDuration(seconds),
      );
      await reply(textMessage(extensionOutcomeText(outcome)));
    });
  });

  app.view(APPROVE_MODAL, async ({ ack, body, view }) => {
    const reason = view.state.values['reason']?.['value']?.value?.trim() || undefined;
    const seconds = Number(view.state.values['duration']?.['value']?.selected_option?.value);
    const meta = parseMeta(view.private_metadata);
    // A missing required reason is said next to the field, and the form stays open (one Redis read).
    if (!reason && (await approvalReasonOf(deps, meta.grantId ?? '')) === 'required') {
      await ack({
        response_action: 'errors',
        errors: { reason: 'Say why you approve: this namespace records it.' },
      });
      return;
    }
    await ack();
    await guarded(deps, responseUrlOrDm(deps, meta.responseUrl, body.user.id), async () => {
      await decide(deps, grantIdOf(meta.grantId), body.user.id, {
        kind: 'approve',
        reason,
        ...(Number.isFinite(seconds) && seconds > 0 ? { shortenTo: seconds } : {}),
      });
    });
  });

  app.view(REQUEST_MODAL, async ({ ack, body, view }) => {
    const state = readModalState(view.state.values);
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
    const dm = responseUrlOrDm(deps, undefined, user);
    await guarded(deps, dm, async () => {
      const result = await submitRequest(deps, user, { ...state, namespace: state.namespace ?? '' });
      await dm(textMessage(requestedText(result.grant, result.need)));
    });
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

/** Whether the namespace of this request asks approvers for a reason. */
async function approvalReasonOf(deps: ListenerDeps, grantId: string): Promise<string | undefined> {
  const grant = await deps.store.get(grantIdOf(grantId));
  return grant ? namespacePolicyOf(deps.policy, grant)?.approvalReason : undefined;
}
