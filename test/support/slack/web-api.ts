// The Web API methods the fake Slack answers, over an in-memory workspace. Each method checks its
// arguments and Slack's limits and answers in Slack's shapes: `{ ok: true, ... }` or
// `{ ok: false, error }` (+ `errors`/`response_metadata.messages` for invalid blocks and views).
import { randomBytes } from 'node:crypto';
import { checkMessageBlocks, checkView, LIMITS } from './limits.js';
import type { Block, ChannelSpec, Obj, SlackUser, StoredFile, StoredMessage, View } from './types.js';

export interface Identity {
  teamId: string;
  teamDomain: string;
  appId: string;
  botUserId: string;
  botId: string;
}

const id = (prefix: string) => `${prefix}${randomBytes(5).toString('hex').toUpperCase()}`;
const fail = (error: string, extra: Obj = {}): Obj => ({ ok: false, error, ...extra });
const str = (value: unknown): string | undefined =>
  typeof value === 'string' && value !== '' ? value : undefined;

/** Trigger ids are valid once, for three seconds, like Slack's. */
const TRIGGER_TTL_MS = 3_000;

/**
 * The bot scopes each Web API method needs (any one of them), from each method's reference page on
 * api.slack.com. Methods absent here need no scope (auth.test, views.*, chat.getPermalink).
 */
export const METHOD_SCOPES: Readonly<Record<string, readonly string[]>> = {
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.delete': ['chat:write'],
  'conversations.open': ['im:write', 'mpim:write', 'channels:manage', 'groups:write'],
  'conversations.info': ['channels:read', 'groups:read', 'im:read', 'mpim:read'],
  'users.info': ['users:read'],
  'users.lookupByEmail': ['users:read.email'],
  'usergroups.users.list': ['usergroups:read'],
  'files.getUploadURLExternal': ['files:write'],
  'files.completeUploadExternal': ['files:write'],
};

/** Methods that need no bot scope (views.* need a trigger id or App Home instead). */
export const SCOPELESS_METHODS: readonly string[] = [
  'auth.test',
  'chat.getPermalink',
  'views.open',
  'views.push',
  'views.update',
  'views.publish',
];

/** What the installed app is allowed and has turned on, as its manifest says. */
/** The workspace's plan: user groups need a paid one (usergroups.* answer plan_upgrade_required). */
export type WorkspacePlan = 'free' | 'pro' | 'business+' | 'enterprise';

export interface AppConfig {
  scopes: ReadonlySet<string>;
  homeTabEnabled: boolean;
  /** Callback ids of the manifest's global shortcuts: Slack offers no others. */
  globalShortcuts: ReadonlySet<string>;
}

interface Channel {
  private: boolean;
  botMember: boolean;
  archived: boolean;
  /** undefined: every user of the workspace (a default channel). */
  members?: Set<string>;
}

export class Workspace {
  readonly users = new Map<string, SlackUser>();
  readonly usergroups = new Map<string, string[]>();
  readonly messages: StoredMessage[] = [];
  /** Uploaded files by id (F…). */
  readonly files = new Map<string, StoredFile>();
  readonly ephemerals: Array<{
    channel: string;
    user: string;
    text?: string;
    blocks?: Block[];
    message_ts: string;
  }> = [];
  readonly views = new Map<string, View>();
  /** Channels by id (C…/G…); DMs (D…) are implicit. */
  readonly channels = new Map<string, Channel>();
  /** Home tab per user id. */
  readonly homes = new Map<string, View>();
  private readonly triggers = new Map<string, { expires: number; used: boolean }>();
  private lastTs = 0;
  /** The workspace's plan (default a paid one, where user groups exist). */
  plan: WorkspacePlan = 'pro';

  /** Base URL of the fake's HTTP server, for upload URLs (set by FakeSlack once it listens). */
  uploadBase = '';

  /** The bytes posted to a file's upload URL; false when the file is unknown. */
  receiveUpload(fileId: string, bytes: Buffer): boolean {
    const file = this.files.get(fileId);
    if (!file) return false;
    file.bytes = bytes;
    return true;
  }

  readonly identity: Identity;
  private readonly strictTriggers: boolean;
  readonly app: AppConfig;

  constructor(identity: Identity, strictTriggers: boolean, app: AppConfig) {
    this.identity = identity;
    this.strictTriggers = strictTriggers;
    this.app = app;
  }

  addChannel(channelId: string, spec: ChannelSpec = {}): void {
    this.channels.set(channelId, {
      private: spec.private ?? channelId.startsWith('G'),
      botMember: spec.bot ?? true,
      archived: spec.archived ?? false,
      ...(spec.members ? { members: new Set(spec.members) } : {}),
    });
  }

  /** Whether this user is in the channel (a DM: only its user; the bot is in every DM it opens). */
  isMember(channelId: string, userId: string): boolean {
    if (channelId.startsWith('D')) return channelId === this.dmWith(userId);
    const channel = this.channels.get(channelId);
    if (!channel) return false;
    if (userId === this.identity.botUserId) return channel.botMember;
    return channel.members ? channel.members.has(userId) : this.users.has(userId);
  }

  /**
   * Whether the bot may post into a channel, answered like Slack: a channel it cannot see (unknown, or
   * private without it) is `channel_not_found`; a public one it is not in is `not_in_channel` unless the
   * app has chat:write.public (for chat.postMessage only).
   */
  private postable(channelId: string, method: string): string | undefined {
    if (channelId.startsWith('D')) {
      // A deactivated person's DM takes no new messages.
      return this.users.get(`U${channelId.slice(1)}`)?.deleted ? 'user_disabled' : undefined;
    }
    const channel = this.channels.get(channelId);
    if (!channel || (channel.private && !channel.botMember)) return 'channel_not_found';
    // Slack's names for an archived channel differ per method: is_archived to post, is_inactive to edit.
    if (channel.archived) return method === 'chat.update' ? 'is_inactive' : 'is_archived';
    if (channel.botMember) return undefined;
    // chat.update documents no not_in_channel: a message the bot can no longer reach is cant_update_message.
    if (method === 'chat.update') return 'cant_update_message';
    return method === 'chat.postMessage' && this.app.scopes.has('chat:write.public')
      ? undefined
      : 'not_in_channel';
  }

  /** A trigger id good for 3 s (`expired`: one whose 3 s have already passed). */
  mintTriggerId(options: { expired?: boolean } = {}): string {
    const trigger = `${Date.now()}.${randomBytes(6).toString('hex')}`;
    this.triggers.set(trigger, {
      expires: options.expired ? Date.now() - 1 : Date.now() + TRIGGER_TTL_MS,
      used: false,
    });
    return trigger;
  }

  /** Unique, increasing message timestamps in Slack's "seconds.micros" form. */
  nextTs(): string {
    this.lastTs = Math.max(this.lastTs + 1, Date.now() * 1000);
    return `${Math.floor(this.lastTs / 1e6)}.${String(this.lastTs % 1e6).padStart(6, '0')}`;
  }

  findMessage(channel: string, ts: string): StoredMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  private useTrigger(trigger: unknown): string | undefined {
    if (typeof trigger !== 'string' || trigger === '') return 'invalid_trigger_id';
    const known = this.triggers.get(trigger);
    if (!known) return this.strictTriggers ? 'invalid_trigger_id' : undefined;
    if (known.used) return 'exchanged_trigger_id';
    if (Date.now() > known.expires) return 'expired_trigger_id';
    known.used = true;
    return undefined;
  }

  /** Resolves a channel argument the way Slack does: a user id means the DM with that user. */
  private channel(value: unknown): string | undefined {
    const channel = str(value);
    if (!channel) return undefined;
    if (/^[UW][A-Z0-9]+$/.test(channel)) return this.users.has(channel) ? this.dmWith(channel) : undefined;
    if (/^D[A-Z0-9]+$/.test(channel)) return this.users.has(`U${channel.slice(1)}`) ? channel : undefined;
    return /^[CG][A-Z0-9]+$/.test(channel) ? channel : undefined;
  }

  private dmWith(userId: string): string {
    return `D${userId.slice(1)}`;
  }

  private messageProblems(args: Obj): Obj | undefined {
    const text = args['text'];
    if (text === undefined && args['blocks'] === undefined && args['attachments'] === undefined) {
      return fail('no_text');
    }
    // Slack documents `msg_too_long` for the `text` field and asks for at most 4,000 characters there
    // (it truncates past 40,000); blocks have their own limits (checkMessageBlocks).
    if (typeof text === 'string' && text.length > LIMITS.messageText) return fail('msg_too_long');
    const errors = checkMessageBlocks(args['blocks']);
    if (errors.length > 0) return fail('invalid_blocks', { errors, response_metadata: { messages: errors } });
    return undefined;
  }

  private viewProblems(view: unknown, expected: 'modal' | 'home' | 'modal-or-home'): Obj | undefined {
    if (Buffer.byteLength(JSON.stringify(view ?? null)) > LIMITS.viewBytes) return fail('view_too_large');
    const messages = checkView(view, expected);
    return messages.length > 0 ? fail('invalid_arguments', { response_metadata: { messages } }) : undefined;
  }

  /**
   * What a person has entered in a view stays when the app updates it, as in Slack: values are kept for
   * the inputs whose block_id and action_id are both unchanged, and dropped for the others.
   */
  private keptState(blocks: readonly Block[], existing?: View): Record<string, Record<string, Obj>> {
    const before = existing?.state?.values ?? {};
    const kept: Record<string, Record<string, Obj>> = {};
    for (const block of blocks) {
      const blockId = block.block_id;
      const elements = [
        ...(block['element'] ? [block['element'] as Obj] : []),
        ...(block['accessory'] ? [block['accessory'] as Obj] : []),
        ...(Array.isArray(block['elements']) ? (block['elements'] as Obj[]) : []),
      ];
      for (const element of elements) {
        const actionId = element['action_id'];
        const value = blockId && typeof actionId === 'string' ? before[blockId]?.[actionId] : undefined;
        if (blockId && value) kept[blockId] = { ...(kept[blockId] ?? {}), [actionId as string]: value };
      }
    }
    return kept;
  }

  /** Records what a person entered in a view (a choice, typed text), for later payloads and updates. */
  recordViewInput(viewId: string, values: Record<string, Record<string, Obj>>): void {
    const view = this.views.get(viewId);
    if (!view) return;
    this.views.set(viewId, { ...view, state: { values: mergeValues(view.state?.values, values) } });
  }

  private storeView(view: Obj, existing?: View): View {
    const blocks = (view['blocks'] as Block[] | undefined) ?? [];
    const stored = {
      ...view,
      id: existing?.id ?? id('V'),
      team_id: this.identity.teamId,
      app_id: this.identity.appId,
      bot_id: this.identity.botId,
      blocks,
      state: { values: this.keptState(blocks, existing) },
      hash: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    } as unknown as View;
    this.views.set(stored.id, stored);
    return stored;
  }

  call(method: string, args: Obj): Obj {
    const handler = this.methods[method];
    if (!handler) return fail('unknown_method');
    const needed = METHOD_SCOPES[method];
    if (needed && !needed.some((scope) => this.app.scopes.has(scope))) {
      return fail('missing_scope', { needed: needed.join(','), provided: [...this.app.scopes].join(',') });
    }
    return handler(args);
  }

  private readonly methods: Record<string, (args: Obj) => Obj> = {
    'auth.test': () => ({
      ok: true,
      url: `https://${this.identity.teamDomain}.slack.com/`,
      team: this.identity.teamDomain,
      user: 'eks-access',
      team_id: this.identity.teamId,
      user_id: this.identity.botUserId,
      bot_id: this.identity.botId,
      is_enterprise_install: false,
    }),

    // Like Slack: a length is required and must match the bytes later posted to the upload URL; at most
    // 1 GB; the completion shares into one channel the bot may post files to, with an optional comment.
    'files.getUploadURLExternal': (args) => {
      const filename = str(args['filename']);
      const length = Number(args['length']);
      if (!filename) return fail('invalid_arguments');
      if (!Number.isInteger(length) || length <= 0 || length > 1_073_741_824)
        return fail('invalid_arguments');
      const id = `F${String(this.files.size + 1).padStart(8, '0')}`;
      this.files.set(id, { id, filename, length });
      return { ok: true, upload_url: `${this.uploadBase}/upload/${id}`, file_id: id };
    },

    'files.completeUploadExternal': (args) => {
      const listed = typeof args['files'] === 'string' ? JSON.parse(args['files']) : args['files'];
      if (!Array.isArray(listed) || listed.length === 0) return fail('invalid_arguments');
      const files = listed.map((f: { id?: string; title?: string }) => ({
        f,
        stored: this.files.get(f.id ?? ''),
      }));
      if (files.some(({ stored }) => !stored?.bytes)) return fail('file_not_found');
      if (files.some(({ stored }) => stored?.bytes?.length !== stored?.length))
        return fail('file_upload_size_mismatch');
      const channelId = this.channel(args['channel_id']);
      if (args['channel_id'] !== undefined) {
        if (!channelId) return fail('channel_not_found');
        const refused = this.postable(channelId, 'files.completeUploadExternal');
        if (refused) return fail(refused);
      }
      const shared = files.map(({ f, stored }) => {
        const file = stored as StoredFile;
        file.title = f.title ?? file.filename;
        if (channelId) file.channel = channelId;
        return { id: file.id, title: file.title };
      });
      if (channelId) {
        this.messages.push({
          channel: channelId,
          ts: this.nextTs(),
          user: this.identity.botUserId,
          bot_id: this.identity.botId,
          history: [],
          files: shared,
          ...(typeof args['initial_comment'] === 'string' ? { text: args['initial_comment'] } : {}),
          ...(typeof args['thread_ts'] === 'string' ? { thread_ts: args['thread_ts'] } : {}),
        });
      }
      return { ok: true, files: shared };
    },

    'chat.postMessage': (args) => {
      const channel = this.channel(args['channel']);
      if (!channel) return fail('channel_not_found');
      const refused = this.postable(channel, 'chat.postMessage');
      if (refused) return fail(refused);
      const problem = this.messageProblems(args);
      if (problem) return problem;
      const message: StoredMessage = {
        channel,
        ts: this.nextTs(),
        user: this.identity.botUserId,
        bot_id: this.identity.botId,
        history: [],
        ...(typeof args['text'] === 'string' ? { text: args['text'] } : {}),
        ...(Array.isArray(args['blocks']) ? { blocks: args['blocks'] as Block[] } : {}),
        ...(typeof args['thread_ts'] === 'string' ? { thread_ts: args['thread_ts'] } : {}),
      };
      this.messages.push(message);
      const { history: _history, channel: _channel, ...shown } = message;
      return { ok: true, channel, ts: message.ts, message: { type: 'message', ...shown } };
    },

    // No scope, like Slack; a channel the bot cannot see is channel_not_found, an unknown ts
    // message_not_found.
    'chat.getPermalink': (args) => {
      const channel = this.channel(args['channel']);
      const known = channel ? this.channels.get(channel) : undefined;
      if (!channel || (!channel.startsWith('D') && (!known || (known.private && !known.botMember))))
        return fail('channel_not_found');
      const ts = String(args['message_ts'] ?? '');
      if (!this.findMessage(channel, ts)) return fail('message_not_found');
      return {
        ok: true,
        channel,
        permalink: `https://${this.identity.teamDomain}.slack.com/archives/${channel}/p${ts.replace('.', '')}`,
      };
    },

    'chat.update': (args) => {
      const channel = this.channel(args['channel']);
      if (!channel) return fail('channel_not_found');
      const refused = this.postable(channel, 'chat.update');
      if (refused) return fail(refused);
      const message = this.findMessage(channel, String(args['ts'] ?? ''));
      if (!message) return fail('message_not_found');
      if (message.user !== this.identity.botUserId) return fail('cant_update_message');
      const problem = this.messageProblems(args);
      if (problem) return problem;
      message.history.push({
        ...(message.text !== undefined ? { text: message.text } : {}),
        ...(message.blocks !== undefined ? { blocks: message.blocks } : {}),
      });
      if (typeof args['text'] === 'string') message.text = args['text'];
      if (Array.isArray(args['blocks'])) message.blocks = args['blocks'] as Block[];
      return {
        ok: true,
        channel,
        ts: message.ts,
        text: message.text ?? '',
        message: { text: message.text, blocks: message.blocks },
      };
    },

    'chat.postEphemeral': (args) => {
      const channel = this.channel(args['channel']);
      if (!channel) return fail('channel_not_found');
      const refused = this.postable(channel, 'chat.postEphemeral');
      if (refused) return fail(refused);
      const user = str(args['user']);
      if (!user || !this.users.has(user)) return fail('user_not_found');
      if (!this.isMember(channel, user)) return fail('user_not_in_channel');
      const problem = this.messageProblems(args);
      if (problem) return problem;
      const message_ts = this.nextTs();
      this.ephemerals.push({
        channel,
        user,
        message_ts,
        ...(typeof args['text'] === 'string' ? { text: args['text'] } : {}),
        ...(Array.isArray(args['blocks']) ? { blocks: args['blocks'] as Block[] } : {}),
      });
      return { ok: true, message_ts };
    },

    'views.open': (args) => this.openView(args),
    'views.push': (args) => this.openView(args),

    'views.update': (args) => {
      const existing = str(args['view_id'])
        ? this.views.get(String(args['view_id']))
        : [...this.views.values()].find(
            (v) => v.external_id !== undefined && v.external_id === args['external_id'],
          );
      if (!existing) return fail('not_found');
      if (typeof args['hash'] === 'string' && args['hash'] !== existing.hash) return fail('hash_conflict');
      const problem = this.viewProblems(args['view'], 'modal-or-home');
      if (problem) return problem;
      return { ok: true, view: this.storeView(args['view'] as Obj, existing) };
    },

    'views.publish': (args) => {
      if (!this.app.homeTabEnabled) return fail('not_enabled');
      const user = str(args['user_id']);
      if (!user || !this.users.has(user)) return fail('user_not_found');
      const existing = this.homes.get(user);
      if (typeof args['hash'] === 'string' && existing && args['hash'] !== existing.hash)
        return fail('hash_conflict');
      const problem = this.viewProblems(args['view'], 'home');
      if (problem) return problem;
      const view = this.storeView(args['view'] as Obj, existing);
      this.homes.set(user, view);
      return { ok: true, view };
    },

    'users.info': (args) => {
      const user = this.users.get(String(args['user'] ?? ''));
      if (!user) return fail('user_not_found');
      const name = user.name ?? user.id.toLowerCase();
      return {
        ok: true,
        user: {
          id: user.id,
          team_id: this.identity.teamId,
          name,
          real_name: user.real_name ?? name,
          deleted: user.deleted ?? false,
          is_bot: user.is_bot ?? false,
          tz: user.tz ?? 'Europe/Amsterdam',
          profile: {
            real_name: user.real_name ?? name,
            display_name: name,
            // Slack leaves the email out unless the app has users:read.email.
            ...(user.email !== undefined && this.app.scopes.has('users:read.email')
              ? { email: user.email }
              : {}),
          },
        },
      };
    },

    // Slack answers users_not_found for an unknown email, and finds a deactivated user all the same.
    'users.lookupByEmail': (args) => {
      const wanted = String(args['email'] ?? '').toLowerCase();
      const user = [...this.users.values()].find((u) => u.email?.toLowerCase() === wanted);
      if (!wanted || !user) return fail('users_not_found');
      return {
        ok: true,
        user: { id: user.id, team_id: this.identity.teamId, deleted: user.deleted ?? false },
      };
    },

    'usergroups.users.list': (args) => {
      if (this.plan === 'free') return fail('plan_upgrade_required');
      const members = this.usergroups.get(String(args['usergroup'] ?? ''));
      return members ? { ok: true, users: [...members] } : fail('no_such_subteam');
    },

    'conversations.info': (args) => {
      const channelId = str(args['channel']) ?? '';
      if (channelId.startsWith('D')) {
        const channel = this.channel(channelId);
        return channel ? { ok: true, channel: { id: channel, is_im: true } } : fail('channel_not_found');
      }
      const channel = this.channels.get(channelId);
      if (!channel || (channel.private && !channel.botMember)) return fail('channel_not_found');
      const needed = channel.private ? 'groups:read' : 'channels:read';
      if (!this.app.scopes.has(needed))
        return fail('missing_scope', { needed, provided: [...this.app.scopes].join(',') });
      return {
        ok: true,
        channel: {
          id: channelId,
          name: channelId.toLowerCase(),
          is_channel: !channel.private,
          is_group: false,
          is_private: channel.private,
          is_member: channel.botMember,
          is_archived: channel.archived,
        },
      };
    },

    'conversations.open': (args) => {
      if (str(args['channel'])) {
        const channel = this.channel(args['channel']);
        return channel ? { ok: true, channel: { id: channel } } : fail('channel_not_found');
      }
      const users = String(args['users'] ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean);
      if (users.length === 0) return fail('users_list_not_supplied');
      if (users.some((u) => !this.users.has(u))) return fail('user_not_found');
      if (users.some((u) => this.users.get(u)?.deleted)) return fail('user_disabled');
      const channel =
        users.length === 1 ? this.dmWith(users[0] as string) : `G${users.map((u) => u.slice(1)).join('')}`;
      return { ok: true, channel: { id: channel } };
    },
  };

  private openView(args: Obj): Obj {
    const trigger = this.useTrigger(args['trigger_id']);
    if (trigger) return fail(trigger);
    const problem = this.viewProblems(args['view'], 'modal');
    if (problem) return problem;
    return { ok: true, view: this.storeView(args['view'] as Obj) };
  }
}

/** A view's state.values with newer input laid over it, per block and action. */
export function mergeValues(
  before: Record<string, Record<string, Obj>> | undefined,
  after: Record<string, Record<string, Obj>> | undefined,
): Record<string, Record<string, Obj>> {
  const merged = { ...(before ?? {}) };
  for (const [blockId, actions] of Object.entries(after ?? {}))
    merged[blockId] = { ...(merged[blockId] ?? {}), ...actions };
  return merged;
}
