// FakeSlack: one HTTP server on 127.0.0.1 that is Slack's Web API (/api/<method>), Slack's Socket Mode
// endpoint (ws://…/link/) and the response_url endpoint (/response/<id>). Every call is recorded;
// tests await calls with waitFor() instead of sleeping. See ./index.ts for a guided example.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import * as payloads from './payloads.js';
import { RateLimiter, type RateLimitOptions } from './rate-limits.js';
import { SocketModeServer } from './socket-mode.js';
import type {
  ArgsOf,
  Block,
  ChannelSpec,
  Obj,
  SlackCall,
  SlackUser,
  StoredFile,
  StoredMessage,
  View,
} from './types.js';
import { type AppConfig, type Identity, mergeValues, Workspace, type WorkspacePlan } from './web-api.js';

/** The repository's slack-manifest.yml: what an installed eks-access app may do. */
export const MANIFEST_PATH = new URL('../../../slack-manifest.yml', import.meta.url);
/** The same app for HTTP mode (request URLs instead of Socket Mode). */
export const HTTP_MANIFEST_PATH = new URL('../../../slack-manifest.http.yml', import.meta.url);

/** The parts of a Slack app manifest the fake honours. */
export interface SlackManifest {
  features?: {
    app_home?: { home_tab_enabled?: boolean };
    shortcuts?: { type?: string; callback_id?: string }[];
    slash_commands?: { command?: string; url?: string }[];
  };
  oauth_config?: { scopes?: { bot?: string[] } };
  settings?: {
    socket_mode_enabled?: boolean;
    event_subscriptions?: { request_url?: string };
    interactivity?: { is_enabled?: boolean; request_url?: string; message_menu_options_url?: string };
  };
}

export function readManifest(path: URL | string = MANIFEST_PATH): SlackManifest {
  return parseYaml(readFileSync(path, 'utf8')) as SlackManifest;
}

/**
 * Where Slack sends each kind of payload to an app in HTTP mode, as its manifest declares it; Slack
 * sends nothing of a kind whose URL is missing (Socket Mode needs no URLs: undefined).
 */
function deliveryUrlsOf(manifest: SlackManifest): DeliveryUrls | undefined {
  const settings = manifest.settings ?? {};
  if (settings.socket_mode_enabled !== false) return undefined;
  const interactivity = settings.interactivity?.is_enabled === true ? settings.interactivity : {};
  return {
    commands: new Map(
      (manifest.features?.slash_commands ?? []).flatMap((c) => (c.command ? [[c.command, c.url]] : [])),
    ),
    interactivity: interactivity.request_url,
    options: interactivity.message_menu_options_url,
    events: settings.event_subscriptions?.request_url,
  };
}

/** The manifest field each kind of payload needs in HTTP mode, for the fake's refusals. */
const URL_FIELDS = {
  commands: 'features.slash_commands[].url',
  interactivity: 'settings.interactivity.request_url',
  options: 'settings.interactivity.message_menu_options_url',
  events: 'settings.event_subscriptions.request_url',
} as const;

interface DeliveryUrls {
  commands: ReadonlyMap<string, string | undefined>;
  interactivity: string | undefined;
  /** `settings.interactivity.message_menu_options_url`: external selects' block_suggestion requests. */
  options: string | undefined;
  events: string | undefined;
}

function appConfigOf(manifest: SlackManifest): AppConfig {
  return {
    scopes: new Set(manifest.oauth_config?.scopes?.bot ?? []),
    homeTabEnabled: manifest.features?.app_home?.home_tab_enabled === true,
    globalShortcuts: new Set(
      (manifest.features?.shortcuts ?? []).flatMap((s) =>
        s.type === 'global' && s.callback_id ? [s.callback_id] : [],
      ),
    ),
  };
}

/** Slack's response_url rules: at most five uses, within thirty minutes. */
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60_000;

export interface FakeSlackOptions {
  botToken?: string;
  appToken?: string;
  users?: SlackUser[];
  /** User-group id (S…) → member user ids. */
  usergroups?: Record<string, string[]>;
  identity?: Partial<Identity>;
  /** Refuse views.open/push with trigger ids the fake did not mint (default true, as Slack does). */
  strictTriggers?: boolean;
  /** How long Socket Mode send() waits for an ack (default 3000 ms, Slack's deadline). */
  ackTimeoutMs?: number;
  /**
   * The installed app's manifest (scopes, App Home): a path, or the parsed manifest. Default: the
   * repository's slack-manifest.yml, so a scope the code needs but the manifest lacks fails a test.
   */
  manifest?: URL | string | SlackManifest;
  /**
   * The workspace's channels (C… public, G… private). Any other channel id is `channel_not_found`, as
   * in Slack. By default the bot is a member (an admin ran `/invite @eks-access`).
   */
  channels?: Record<string, ChannelSpec>;
  /**
   * Slack's rate limits (rate-limits.ts): per method tier and per channel for chat.postMessage, on a
   * clock `speedup` times faster than Slack's (default DEFAULT_SPEEDUP). Off only with a reason:
   * `{ off: 'why' }`.
   */
  rateLimits?: RateLimitOptions;
  /** The workspace's plan; on `free` user groups do not exist (plan_upgrade_required). Default `pro`. */
  plan?: WorkspacePlan;
}

interface ResponseUrl {
  channel: string;
  user: string;
  uses: number;
  expires: number;
}

interface InjectedFailure {
  error: string;
  status: number;
  retryAfterSeconds?: number;
  /** Which call fails (default: the next one of the method). */
  when: (args: Obj) => boolean;
}

/** Form fields whose values @slack/web-api JSON-encodes. */
const JSON_FIELDS = new Set([
  'blocks',
  'attachments',
  'view',
  'metadata',
  'unfurls',
  'user_auth_blocks',
  'files',
]);

function parseBody(contentType: string, raw: string): Obj {
  if (contentType.includes('application/json')) return raw ? (JSON.parse(raw) as Obj) : {};
  const args: Obj = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    if (JSON_FIELDS.has(key)) {
      try {
        args[key] = JSON.parse(value);
        continue;
      } catch {
        // Slack would reject it; keep the raw string so the limit checks report it.
      }
    }
    args[key] = value;
  }
  return args;
}

/**
 * The file in an upload: the raw body, or (as web-api sends it) the part of a multipart/form-data body
 * that carries a filename.
 */
function uploadedBytes(contentType: string, body: Buffer): Buffer {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  if (!contentType.startsWith('multipart/form-data') || !boundary) return body;
  const delimiter = Buffer.from(`--${boundary}`);
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const next = body.indexOf(delimiter, at + delimiter.length);
    if (next === -1) break;
    const part = body.subarray(at + delimiter.length + 2, next - 2); // after CRLF, before CRLF
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd !== -1 && /filename=/.test(part.subarray(0, headerEnd).toString('latin1'))) {
      return part.subarray(headerEnd + 4);
    }
    at = next;
  }
  return body;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: Obj, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

const WAIT_FOR_DEFAULT_MS = 30_000;

export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly identity: Identity;
  /** Every Web API call and response_url post, oldest first. */
  readonly calls: SlackCall[] = [];
  readonly socket: SocketModeServer;
  private readonly workspace: Workspace;
  private readonly server: Server;
  private readonly failures = new Map<string, InjectedFailure[]>();
  private readonly delays = new Map<
    string,
    { ms: number; when: (args: Obj) => boolean; arrived: (args: Obj) => void }[]
  >();
  private readonly waiters = new Set<(call: SlackCall) => void>();
  private readonly responseUrls = new Map<string, ResponseUrl>();
  /** Slack's rate limits, on the fake's own clock. */
  readonly rateLimits: RateLimiter;
  /** HTTP mode: the manifest's request URLs (undefined in Socket Mode). */
  private readonly deliveryUrls: DeliveryUrls | undefined;

  private constructor(options: FakeSlackOptions) {
    this.botToken = options.botToken ?? `xoxb-fake-${randomBytes(8).toString('hex')}`;
    this.appToken = options.appToken ?? `xapp-1-fake-${randomBytes(8).toString('hex')}`;
    this.identity = {
      teamId: 'T0EKSACCESS',
      teamDomain: 'eks-access-test',
      appId: 'A0EKSACCESS',
      botUserId: 'U0EKSBOT',
      botId: 'B0EKSBOT',
      ...options.identity,
    };
    const manifest =
      options.manifest === undefined ||
      typeof options.manifest === 'string' ||
      options.manifest instanceof URL
        ? readManifest(options.manifest)
        : options.manifest;
    this.deliveryUrls = deliveryUrlsOf(manifest);
    this.rateLimits = new RateLimiter(options.rateLimits);
    this.workspace = new Workspace(this.identity, options.strictTriggers ?? true, appConfigOf(manifest));
    if (options.plan) this.workspace.plan = options.plan;
    for (const user of options.users ?? []) this.addUser(user);
    for (const [channel, spec] of Object.entries(options.channels ?? {})) this.addChannel(channel, spec);
    for (const [group, members] of Object.entries(options.usergroups ?? {}))
      this.setUsergroup(group, members);
    this.socket = new SocketModeServer(
      () => this.baseUrl.replace(/^http/, 'ws'),
      this.identity.appId,
      options.ackTimeoutMs ?? 3_000,
    );
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: unknown) => send(res, 500, { ok: false, error: String(error) }));
    });
    this.server.on('upgrade', (req, socket, head) => this.socket.handleUpgrade(req, socket, head));
  }

  static async start(options: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(options);
    await new Promise<void>((resolve, reject) => {
      fake.server.once('error', reject);
      fake.server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.workspace.uploadBase = fake.baseUrl;
    return fake;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Files the app uploaded (files.uploadV2), with their bytes and where they were shared. */
  get files(): ReadonlyMap<string, StoredFile> {
    return this.workspace.files;
  }

  /** For `new App({ clientOptions: { slackApiUrl: fake.apiUrl } })`; ends with /api/ as web-api expects. */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  async close(): Promise<void> {
    await this.socket.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- workspace set-up ------------------------------------------------------------------------

  addUser(user: SlackUser): void {
    this.workspace.users.set(user.id, user);
  }

  setUsergroup(usergroupId: string, members: readonly string[]): void {
    this.workspace.usergroups.set(usergroupId, [...members]);
  }

  /** A person leaves the workspace (an admin deactivates them): users.info says `deleted: true`. */
  deactivateUser(userId: string): void {
    const user = this.workspace.users.get(userId);
    if (!user) throw new Error(`no user ${userId}`);
    this.workspace.users.set(userId, { ...user, deleted: true });
  }

  /**
   * A message the bot posted before the test began (no Web API call, no rate limit): e.g. the approval
   * messages of grants a test starts with. Returns where it is.
   */
  seedMessage(channel: string, text: string): { channel: string; ts: string } {
    const ts = this.workspace.nextTs();
    this.workspace.messages.push({
      channel,
      ts,
      text,
      user: this.identity.botUserId,
      bot_id: this.identity.botId,
      history: [],
    });
    return { channel, ts };
  }

  /** The workspace moves to another plan (`free`: no user groups). */
  setPlan(plan: WorkspacePlan): void {
    this.workspace.plan = plan;
  }

  /** Archives a channel: posts are refused (is_archived), edits too (is_inactive). */
  archiveChannel(channelId: string): void {
    const channel = this.workspace.channels.get(channelId);
    if (!channel) throw new Error(`no channel ${channelId}`);
    channel.archived = true;
  }

  /** Creates (or redefines) a channel; see FakeSlackOptions.channels. */
  addChannel(channelId: string, spec: ChannelSpec = {}): void {
    this.workspace.addChannel(channelId, spec);
  }

  /** The scopes the installed app has (from its manifest). */
  get scopes(): ReadonlySet<string> {
    return this.workspace.app.scopes;
  }

  /** Ages every response_url minted so far past Slack's 30 minutes. */
  expireResponseUrls(): void {
    for (const url of this.responseUrls.values()) url.expires = 0;
  }

  /**
   * Makes the next call(s) of `method` fail with `error`. `ratelimited` answers HTTP 429 with Retry-After
   * (web-api then retries), anything else HTTP 200 `{ ok: false, error }`. `when` picks which call.
   */
  failNext(
    method: string,
    error: string,
    options: { times?: number; retryAfterSeconds?: number; when?: (args: Obj) => boolean } = {},
  ): void {
    const queue = this.failures.get(method) ?? [];
    for (let i = 0; i < (options.times ?? 1); i++) {
      queue.push({
        error,
        status: error === 'ratelimited' ? 429 : 200,
        when: options.when ?? (() => true),
        ...(options.retryAfterSeconds !== undefined ? { retryAfterSeconds: options.retryAfterSeconds } : {}),
      });
    }
    this.failures.set(method, queue);
  }

  /**
   * Makes the next call(s) of `method` slow: each is applied (and answered) `ms` later, as a request held
   * up on the way to Slack is, so calls sent after it may be applied before it. `when` picks which call.
   * Resolves with the call's arguments when it arrives (before it is applied).
   */
  slowNext(method: string, ms: number, options: { when?: (args: Obj) => boolean } = {}): Promise<Obj> {
    return new Promise((arrived) => {
      const queue = this.delays.get(method) ?? [];
      queue.push({ ms, when: options.when ?? (() => true), arrived });
      this.delays.set(method, queue);
    });
  }

  // --- what the app did ------------------------------------------------------------------------

  callsTo<M extends string>(method: M): SlackCall<M>[] {
    return this.calls.filter((c): c is SlackCall<M> => c.method === method);
  }

  /**
   * The first call of `method` (already made or still to come) that matches `predicate`; rejects after
   * `timeoutMs` with the calls of that method seen so far. Pass `after` (a count of calls, e.g.
   * `fake.calls.length` taken earlier) to ignore older calls. The default deadline is generous (30 s):
   * most awaited calls come from a queued job (the outbox, the worker), which a loaded CI machine may
   * run seconds late; a passing test never waits for the deadline, so only a failing one pays for it.
   */
  waitFor<M extends string>(
    method: M,
    predicate: (call: SlackCall<M>) => boolean = () => true,
    options: { timeoutMs?: number; after?: number } = {},
  ): Promise<SlackCall<M>> {
    const matches = (call: SlackCall): call is SlackCall<M> =>
      call.method === method && predicate(call as SlackCall<M>);
    const earlier = this.calls.slice(options.after ?? 0).find(matches);
    if (earlier) return Promise.resolve(earlier);
    const timeoutMs = options.timeoutMs ?? WAIT_FOR_DEFAULT_MS;
    return new Promise((resolve, reject) => {
      const waiter = (call: SlackCall) => {
        if (!matches(call)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(call);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const seen = this.callsTo(method).map((c) => JSON.stringify(c.args).slice(0, 300));
        reject(
          new Error(
            `no matching ${method} call within ${timeoutMs} ms; ${seen.length} seen:\n${seen.join('\n') || '(none)'}`,
          ),
        );
      }, timeoutMs);
      // A waiter that lost a Promise.any race (ephemeralTo) must not keep the test process alive.
      timer.unref();
      this.waiters.add(waiter);
    });
  }

  /**
   * Calls `listener` with every call recorded from now on (the sandbox page's live updates, sandbox/);
   * returns the function that stops it.
   */
  onCall(listener: (call: SlackCall) => void): () => void {
    this.waiters.add(listener);
    return () => this.waiters.delete(listener);
  }

  /** Messages as they stand now (after chat.update), optionally in one channel. */
  messages(channel?: string): StoredMessage[] {
    return this.workspace.messages.filter((m) => channel === undefined || m.channel === channel);
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    return this.workspace.findMessage(channel, ts);
  }

  get ephemerals(): Workspace['ephemerals'] {
    return this.workspace.ephemerals;
  }

  /** Open modals and published home tabs by view id. */
  view(viewId: string): View | undefined {
    return this.workspace.views.get(viewId);
  }

  homeOf(userId: string): View | undefined {
    return this.workspace.homes.get(userId);
  }

  // --- what Slack sends the app (deliver with fake.socket.send or the signing helpers) ------------

  /**
   * In HTTP mode Slack sends a payload only to the URL the manifest declares for its kind: with none,
   * the person's action reaches nobody (a namespace search stays empty), so the fake refuses to make
   * the payload, as it refuses a method the scopes do not cover.
   */
  private deliverable(payloadType: string, kind: keyof typeof URL_FIELDS, command?: string): void {
    const urls = this.deliveryUrls;
    if (!urls) return;
    const url = kind === 'commands' ? urls.commands.get(command ?? '') : urls[kind];
    if (!url)
      throw new Error(
        `Slack sends no ${payloadType}: the HTTP manifest declares no ${URL_FIELDS[kind]}${command ? ` for ${command}` : ''}`,
      );
  }

  /** A trigger id and a response_url for an interaction of `user` in `channel`. */
  private context(channel: string, user: string): payloads.Context {
    const key = randomBytes(6).toString('hex');
    this.responseUrls.set(key, { channel, user, uses: 0, expires: Date.now() + RESPONSE_URL_TTL_MS });
    return {
      identity: this.identity,
      triggerId: this.workspace.mintTriggerId(),
      responseUrl: `${this.baseUrl}/response/${key}`,
    };
  }

  slashCommand(fields: payloads.SlashCommandFields): payloads.SlashCommandPayload {
    this.deliverable('slash command', 'commands', fields.command);
    return payloads.slashCommand(this.context(fields.channel_id ?? 'C0EKSACCESS', fields.user_id), fields);
  }

  /**
   * A click on an element of a message the app posted (found by channel + ts; an ephemeral one too,
   * when it was shown to the clicking user) or of a view it opened.
   */
  blockActions(
    fields: payloads.BlockActionFields & ({ channel: string; message_ts: string } | { view_id: string }),
  ): Obj {
    this.deliverable('block_actions', 'interactivity');
    if ('view_id' in fields) {
      const view = this.view(fields.view_id);
      if (!view) throw new Error(`no view ${fields.view_id}`);
      // The view's state is what was entered before (kept across views.update) plus this interaction.
      const payload = payloads.blockActions(
        this.context(view.id, fields.user_id),
        { ...fields, values: mergeValues(view.state?.values, fields.values) },
        { view },
      );
      const state = (payload['view'] as View).state;
      if (state) this.workspace.recordViewInput(view.id, state.values);
      return payload;
    }
    const context = this.context(fields.channel, fields.user_id);
    const message = this.message(fields.channel, fields.message_ts);
    if (message) return payloads.blockActions(context, fields, { message });
    const ephemeral = this.ephemerals.find(
      (e) => e.channel === fields.channel && e.message_ts === fields.message_ts && e.user === fields.user_id,
    );
    if (!ephemeral) throw new Error(`no message ${fields.message_ts} in ${fields.channel}`);
    return payloads.blockActions(context, fields, {
      message: {
        ...ephemeral,
        ts: ephemeral.message_ts,
        user: this.identity.botUserId,
        bot_id: this.identity.botId,
        history: [],
      },
      ephemeral: true,
    });
  }

  /**
   * An interaction prepared earlier (a click on a copy of a message that still shows its buttons),
   * made now: Slack mints the trigger id when the person clicks, so it gets a fresh one. Without it a
   * click delivered more than 3 s after it was prepared could not open a form.
   */
  clickedNow(payload: Obj): Obj {
    return { ...payload, trigger_id: this.workspace.mintTriggerId() };
  }

  /**
   * The same interaction, delivered after Slack's 3 s for opening a form have passed (a slow moment of
   * the app's): its trigger id is one Slack already expired.
   */
  clickedTooLongAgo(payload: Obj): Obj {
    return { ...payload, trigger_id: this.workspace.mintTriggerId({ expired: true }) };
  }

  /**
   * A person fills in inputs of an open view without submitting or dispatching anything (typing into
   * a text field): Slack keeps it in the view's state, which later payloads carry.
   */
  enter(viewId: string, values: Record<string, Record<string, Obj>>): void {
    if (!this.view(viewId)) throw new Error(`no view ${viewId}`);
    this.workspace.recordViewInput(viewId, values);
  }

  /** The submission of a modal the app opened (with what was entered before, kept like Slack keeps it). */
  viewSubmission(fields: payloads.ViewSubmissionFields & { view_id: string }): Obj {
    this.deliverable('view_submission', 'interactivity');
    const view = this.view(fields.view_id);
    if (!view) throw new Error(`no view ${fields.view_id}`);
    const values = mergeValues(view.state?.values, fields.values);
    this.workspace.recordViewInput(view.id, values);
    return payloads.viewSubmission(this.context(view.id, fields.user_id), { ...fields, values }, view);
  }

  /**
   * A person types into an external select of a view the app opened: Slack asks the app for options
   * (over Socket Mode an `interactive` envelope, answered in the ack; check the answer with
   * checkOptionsResponse).
   */
  blockSuggestion(fields: payloads.BlockSuggestionFields & { view_id: string }): Obj {
    this.deliverable('block_suggestion', 'options');
    const view = this.view(fields.view_id);
    if (!view) throw new Error(`no view ${fields.view_id}`);
    return payloads.blockSuggestion(this.context(view.id, fields.user_id), fields, view);
  }

  /**
   * A person picks one of the app's global shortcuts (the lightning-bolt menu). Only the shortcuts the
   * manifest declares exist, as in Slack; the payload carries a trigger id the fake honours.
   */
  globalShortcut(fields: { callback_id: string; user_id: string }): Obj {
    this.deliverable('shortcut', 'interactivity');
    if (!this.workspace.app.globalShortcuts.has(fields.callback_id))
      throw new Error(`the manifest declares no global shortcut ${fields.callback_id}`);
    return payloads.globalShortcut(this.context('', fields.user_id), fields);
  }

  eventCallback(event: Obj): Obj {
    this.deliverable('event', 'events');
    return payloads.eventCallback(this.identity, event);
  }

  // --- HTTP ------------------------------------------------------------------------------------

  private record(
    method: string,
    args: Obj,
    auth: SlackCall['auth'],
    response: Obj,
    responseTo?: SlackCall['responseTo'],
  ): void {
    const call: SlackCall = {
      method,
      args: args as ArgsOf<string>,
      auth,
      at: new Date(),
      response,
      ...(responseTo ? { responseTo } : {}),
    };
    this.calls.push(call);
    for (const waiter of [...this.waiters]) waiter(call);
  }

  /**
   * A post to a response_url, with Slack's rules: unknown URL → 404, more than five uses → `used_url`,
   * older than thirty minutes → `expired_url`. An ephemeral answer is stored (and clickable) like one
   * posted with chat.postEphemeral.
   */
  private respond(key: string, body: Obj, res: ServerResponse): void {
    const url = this.responseUrls.get(key);
    const refused = !url
      ? 'invalid_url'
      : Date.now() > url.expires
        ? 'expired_url'
        : url.uses >= RESPONSE_URL_USES
          ? 'used_url'
          : undefined;
    if (refused || !url) {
      this.record('response_url', body, 'none', { ok: false, error: refused });
      send(res, 404, { ok: false, error: refused });
      return;
    }
    url.uses++;
    if (body['response_type'] !== 'in_channel' && body['replace_original'] !== true) {
      this.workspace.ephemerals.push({
        channel: url.channel,
        user: url.user,
        message_ts: this.workspace.nextTs(),
        ...(typeof body['text'] === 'string' ? { text: body['text'] } : {}),
        ...(Array.isArray(body['blocks']) ? { blocks: body['blocks'] as Block[] } : {}),
      });
    }
    this.record('response_url', body, 'none', { ok: true }, { channel: url.channel, user: url.user });
    send(res, 200, { ok: true });
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    // A file's bytes, posted to the URL files.getUploadURLExternal gave (binary: not read as text).
    if (url.pathname.startsWith('/upload/')) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const bytes = uploadedBytes(req.headers['content-type'] ?? '', Buffer.concat(chunks));
      const known = this.workspace.receiveUpload(url.pathname.slice('/upload/'.length), bytes);
      res.writeHead(known ? 200 : 404, { 'content-type': 'text/plain' });
      res.end(known ? `OK - ${bytes.length}` : 'not found');
      return;
    }
    const raw = await readBody(req);
    const contentType = req.headers['content-type'] ?? '';
    if (url.pathname.startsWith('/response/'))
      return this.respond(url.pathname.slice(10), parseBody(contentType, raw), res);
    const method = url.pathname.match(/^\/api\/([\w.]+)$/)?.[1];
    if (!method) return send(res, 404, { ok: false, error: 'unknown_method' });
    const args = { ...Object.fromEntries(url.searchParams), ...parseBody(contentType, raw) };
    const bearer = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
    const token = bearer ?? (typeof args['token'] === 'string' ? args['token'] : undefined);
    delete args['token'];
    const auth: SlackCall['auth'] =
      token === undefined
        ? 'none'
        : token === this.botToken
          ? 'bot'
          : token === this.appToken
            ? 'app'
            : 'invalid';

    const answer = (response: Obj, status = 200, headers: Record<string, string> = {}) => {
      this.record(method, args, auth, response);
      // Like Slack, every bot-token answer names the token's scopes (doctor reads this header).
      const scopes = auth === 'bot' ? { 'x-oauth-scopes': [...this.scopes].join(',') } : {};
      send(res, status, response, { ...scopes, ...headers });
    };
    if (auth === 'none') return answer({ ok: false, error: 'not_authed' });
    if (auth === 'invalid') return answer({ ok: false, error: 'invalid_auth' });
    const wantsApp = method === 'apps.connections.open';
    if ((auth === 'app') !== wantsApp) return answer({ ok: false, error: 'not_allowed_token_type' });
    const queue = this.failures.get(method) ?? [];
    const at = queue.findIndex((f) => f.when(args));
    const injected = at === -1 ? undefined : queue.splice(at, 1)[0];
    if (injected) {
      const headers: Record<string, string> =
        injected.status === 429 ? { 'retry-after': String(injected.retryAfterSeconds ?? 1) } : {};
      return answer({ ok: false, error: injected.error }, injected.status, headers);
    }
    const retryAfter = this.rateLimits.take(
      method,
      typeof args['channel'] === 'string' ? args['channel'] : undefined,
    );
    if (retryAfter !== undefined)
      return answer({ ok: false, error: 'ratelimited' }, 429, { 'retry-after': String(retryAfter) });
    if (wantsApp) return answer({ ok: true, url: this.socket.connectionUrl() });
    const delays = this.delays.get(method) ?? [];
    const delay = delays.findIndex((d) => d.when(args));
    if (delay !== -1) {
      const [held] = delays.splice(delay, 1);
      held?.arrived(args);
      await new Promise((resolve) => setTimeout(resolve, held?.ms ?? 0));
    }
    answer(this.workspace.call(method, args));
  }
}

/** All the text in some blocks, in order, for assertions like `expect(blocksText(m.blocks)).toContain(...)`. */
export function blocksText(blocks: readonly Block[] | undefined): string {
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'text' && typeof inner === 'string') parts.push(inner);
        else walk(inner);
      }
    }
  };
  walk(blocks ?? []);
  return parts.join('\n');
}
