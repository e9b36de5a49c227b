// The Web API methods the fake Slack answers, over an in-memory workspace. Each method checks its
// arguments and Slack's limits and answers in Slack's shapes: `{ ok: true, ... }` or
// `{ ok: false, error }` (+ `errors`/`response_metadata.messages` for invalid blocks and views).
import { randomBytes } from 'node:crypto';
import { checkMessageBlocks, checkView, LIMITS } from './limits.js';
import type { Block, Obj, SlackUser, StoredMessage, View } from './types.js';

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

export class Workspace {
  readonly users = new Map<string, SlackUser>();
  readonly usergroups = new Map<string, string[]>();
  readonly messages: StoredMessage[] = [];
  readonly ephemerals: Array<{
    channel: string;
    user: string;
    text?: string;
    blocks?: Block[];
    message_ts: string;
  }> = [];
  readonly views = new Map<string, View>();
  /** Home tab per user id. */
  readonly homes = new Map<string, View>();
  private readonly triggers = new Map<string, { expires: number; used: boolean }>();
  private lastTs = 0;

  readonly identity: Identity;
  private readonly strictTriggers: boolean;

  constructor(identity: Identity, strictTriggers: boolean) {
    this.identity = identity;
    this.strictTriggers = strictTriggers;
  }

  mintTriggerId(): string {
    const trigger = `${Date.now()}.${randomBytes(6).toString('hex')}`;
    this.triggers.set(trigger, { expires: Date.now() + TRIGGER_TTL_MS, used: false });
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
    return /^[CDG][A-Z0-9]+$/.test(channel) ? channel : undefined;
  }

  private dmWith(userId: string): string {
    return `D${userId.slice(1)}`;
  }

  private messageProblems(args: Obj): Obj | undefined {
    const text = args['text'];
    if (text === undefined && args['blocks'] === undefined && args['attachments'] === undefined) {
      return fail('no_text');
    }
    if (typeof text === 'string' && text.length > LIMITS.messageText) return fail('msg_too_long');
    const errors = checkMessageBlocks(args['blocks']);
    if (errors.length > 0) return fail('invalid_blocks', { errors, response_metadata: { messages: errors } });
    return undefined;
  }

  private viewProblems(view: unknown, expected: 'modal' | 'home' | 'modal-or-home'): Obj | undefined {
    const messages = checkView(view, expected);
    return messages.length > 0 ? fail('invalid_arguments', { response_metadata: { messages } }) : undefined;
  }

  private storeView(view: Obj, existing?: View): View {
    const stored = {
      ...view,
      id: existing?.id ?? id('V'),
      team_id: this.identity.teamId,
      app_id: this.identity.appId,
      bot_id: this.identity.botId,
      blocks: (view['blocks'] as Block[] | undefined) ?? [],
      state: { values: {} },
      hash: `${Date.now()}.${randomBytes(4).toString('hex')}`,
    } as unknown as View;
    this.views.set(stored.id, stored);
    return stored;
  }

  call(method: string, args: Obj): Obj {
    const handler = this.methods[method];
    return handler ? handler(args) : fail('unknown_method');
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

    'chat.postMessage': (args) => {
      const channel = this.channel(args['channel']);
      if (!channel) return fail('channel_not_found');
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

    'chat.update': (args) => {
      const channel = this.channel(args['channel']);
      if (!channel) return fail('channel_not_found');
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
      const user = str(args['user']);
      if (!user || !this.users.has(user)) return fail('user_not_found');
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
            ...(user.email !== undefined ? { email: user.email } : {}),
          },
        },
      };
    },

    'usergroups.users.list': (args) => {
      const members = this.usergroups.get(String(args['usergroup'] ?? ''));
      return members ? { ok: true, users: [...members] } : fail('no_such_subteam');
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
