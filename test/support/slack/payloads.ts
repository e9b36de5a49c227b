// Payloads Slack sends to an app, in the shapes Bolt parses: slash commands (form fields), block_actions
// and view_submission (interactivity), and event callbacks. FakeSlack fills in trigger ids it will
// honour, response URLs it serves, and the stored message or view a click or submission belongs to.
import { randomBytes } from 'node:crypto';
import type { Block, Obj, StoredMessage, View } from './types.js';
import type { Identity } from './web-api.js';

export interface Context {
  identity: Identity;
  triggerId: string;
  responseUrl: string;
}

export interface SlashCommandFields {
  command: string;
  user_id: string;
  text?: string;
  channel_id?: string;
  user_name?: string;
  channel_name?: string;
}

/** As Slack posts it (all strings); send over HTTP form-encoded, or as a Socket Mode payload. */
export type SlashCommandPayload = Record<string, string>;

export function slashCommand(ctx: Context, fields: SlashCommandFields): SlashCommandPayload {
  return {
    token: 'deprecated-verification-token',
    team_id: ctx.identity.teamId,
    team_domain: ctx.identity.teamDomain,
    channel_id: fields.channel_id ?? 'C0EKSACCESS',
    channel_name: fields.channel_name ?? 'eks-access',
    user_id: fields.user_id,
    user_name: fields.user_name ?? fields.user_id.toLowerCase(),
    command: fields.command,
    text: fields.text ?? '',
    api_app_id: ctx.identity.appId,
    is_enterprise_install: 'false',
    response_url: ctx.responseUrl,
    trigger_id: ctx.triggerId,
  };
}

function user(ctx: Context, userId: string): Obj {
  return {
    id: userId,
    username: userId.toLowerCase(),
    name: userId.toLowerCase(),
    team_id: ctx.identity.teamId,
  };
}

/** The element with this action_id anywhere in the blocks (sections' accessories, actions, inputs). */
export function findElement(
  blocks: readonly Block[] | undefined,
  actionId: string,
  value?: string,
): { block: Block; element: Obj } | undefined {
  const found: { block: Block; element: Obj }[] = [];
  for (const block of blocks ?? []) {
    const candidates = [
      ...(Array.isArray(block['elements']) ? (block['elements'] as Obj[]) : []),
      ...(block['accessory'] ? [block['accessory'] as Obj] : []),
      ...(block['element'] ? [block['element'] as Obj] : []),
    ];
    for (const element of candidates) if (element['action_id'] === actionId) found.push({ block, element });
  }
  // Several buttons with one action id (one per target of a shared message): the one with this value;
  // a value no button carries (a forged click) still comes from the first.
  return found.find((f) => value !== undefined && f.element['value'] === value) ?? found[0];
}

export interface BlockActionFields {
  user_id: string;
  action_id: string;
  /** Defaults to the clicked element's value. */
  value?: string;
  /** For selects: the chosen option's value. */
  selected?: string;
  /**
   * In a view: the other inputs' current values (`state.values`, as in ViewSubmissionFields). The
   * clicked select's choice is added, as Slack includes it in `view.state`.
   */
  values?: Record<string, Record<string, Obj>>;
}

export function blockActions(
  ctx: Context,
  fields: BlockActionFields,
  where: { message: StoredMessage; ephemeral?: boolean } | { view: View },
): Obj {
  const ephemeral = 'message' in where && where.ephemeral === true;
  const blocks = 'message' in where ? where.message.blocks : where.view.blocks;
  const found = findElement(blocks, fields.action_id, fields.value);
  if (!found) {
    throw new Error(
      `no element with action_id ${fields.action_id} in the ${'message' in where ? 'message' : 'view'}`,
    );
  }
  const { block, element } = found;
  const action: Obj = {
    type: element['type'],
    action_id: fields.action_id,
    block_id: block.block_id ?? 'fake-block',
    action_ts: `${Date.now() / 1000}`,
  };
  if (element['type'] === 'button') {
    action['text'] = element['text'];
    action['value'] = fields.value ?? element['value'];
  } else if (fields.selected !== undefined) {
    action['selected_option'] = {
      text: { type: 'plain_text', text: fields.selected },
      value: fields.selected,
    };
  }
  const container =
    'message' in where
      ? {
          type: 'message',
          message_ts: where.message.ts,
          channel_id: where.message.channel,
          is_ephemeral: ephemeral,
        }
      : { type: 'view', view_id: where.view.id };
  return {
    type: 'block_actions',
    user: user(ctx, fields.user_id),
    api_app_id: ctx.identity.appId,
    token: 'deprecated-verification-token',
    container,
    trigger_id: ctx.triggerId,
    team: { id: ctx.identity.teamId, domain: ctx.identity.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    ...('message' in where
      ? {
          channel: { id: where.message.channel, name: 'eks-access' },
          // Slack sends no `message` for a click on an ephemeral message: only the container says where.
          ...(ephemeral
            ? {}
            : {
                message: {
                  type: 'message',
                  ts: where.message.ts,
                  text: where.message.text ?? '',
                  blocks: where.message.blocks ?? [],
                  user: where.message.user,
                  bot_id: where.message.bot_id,
                },
              }),
          response_url: ctx.responseUrl,
        }
      : { view: { ...where.view, state: { values: viewState(fields, found, action) } } }),
    actions: [action],
  };
}

/** A view's `state.values` at the moment of a click: what the test says was filled in, plus the click. */
function viewState(
  fields: BlockActionFields,
  found: { block: Block; element: Obj },
  action: Obj,
): Record<string, Record<string, Obj>> {
  const values = { ...(fields.values ?? {}) };
  if (action['selected_option'] !== undefined) {
    const blockId = found.block.block_id ?? 'fake-block';
    values[blockId] = {
      ...(values[blockId] ?? {}),
      [fields.action_id]: { type: found.element['type'], selected_option: action['selected_option'] },
    };
  }
  return values;
}

export interface ViewSubmissionFields {
  user_id: string;
  /** state.values: block_id → action_id → value object, e.g. `{ reason: { input: { type: 'plain_text_input', value: 'x' } } }`. */
  values?: Record<string, Record<string, Obj>>;
}

export function viewSubmission(ctx: Context, fields: ViewSubmissionFields, view: View): Obj {
  return {
    type: 'view_submission',
    team: { id: ctx.identity.teamId, domain: ctx.identity.teamDomain },
    user: user(ctx, fields.user_id),
    api_app_id: ctx.identity.appId,
    token: 'deprecated-verification-token',
    trigger_id: ctx.triggerId,
    view: { ...view, state: { values: fields.values ?? {} } },
    response_urls: [],
    is_enterprise_install: false,
    enterprise: null,
  };
}

export interface BlockSuggestionFields {
  user_id: string;
  action_id: string;
  /** What the person has typed into the select so far. */
  value: string;
}

/** An options request for an external select in a view, as a person types into it. */
export function blockSuggestion(ctx: Context, fields: BlockSuggestionFields, view: View): Obj {
  const found = findElement(view.blocks, fields.action_id);
  if (found?.element['type'] !== 'external_select')
    throw new Error(`no external_select with action_id ${fields.action_id} in the view`);
  return {
    type: 'block_suggestion',
    user: user(ctx, fields.user_id),
    container: { type: 'view', view_id: view.id },
    api_app_id: ctx.identity.appId,
    token: 'deprecated-verification-token',
    action_id: fields.action_id,
    block_id: found.block.block_id ?? 'fake-block',
    value: fields.value,
    team: { id: ctx.identity.teamId, domain: ctx.identity.teamDomain },
    enterprise: null,
    is_enterprise_install: false,
    view,
  };
}

/** A global shortcut, as Slack sends it (interactivity, type `shortcut`: no channel, no response_url). */
export function globalShortcut(ctx: Context, fields: { callback_id: string; user_id: string }): Obj {
  return {
    type: 'shortcut',
    token: 'deprecated-verification-token',
    action_ts: `${Date.now() / 1000}`,
    team: { id: ctx.identity.teamId, domain: ctx.identity.teamDomain },
    user: user(ctx, fields.user_id),
    callback_id: fields.callback_id,
    trigger_id: ctx.triggerId,
    is_enterprise_install: false,
    enterprise: null,
  };
}

export function eventCallback(identity: Identity, event: Obj): Obj {
  return {
    token: 'deprecated-verification-token',
    team_id: identity.teamId,
    api_app_id: identity.appId,
    event: { event_ts: `${Date.now() / 1000}`, ...event },
    type: 'event_callback',
    event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [
      { team_id: identity.teamId, user_id: identity.botUserId, is_bot: true, is_enterprise_install: false },
    ],
    is_ext_shared_channel: false,
  };
}
