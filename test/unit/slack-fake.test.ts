// The fake Slack must refuse what Slack refuses, or tests written against it prove nothing. These check
// its limits and its protocol rules directly (no platform needed: it is an in-process HTTP server).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.js';
import {
  checkMessageBlocks,
  checkView,
  FakeSlack,
  HTTP_MANIFEST_PATH,
  readManifest,
} from '../support/slack/index.js';

const plain = (text: string) => ({ type: 'plain_text', text });
const button = (text: string) => ({ type: 'button', action_id: 'a', text: plain(text), value: 'v' });
const modal = (extra: Record<string, unknown> = {}) => ({
  type: 'modal',
  title: plain('Title'),
  blocks: [],
  ...extra,
});

describe('Block Kit limits', () => {
  it('allows 75 characters of button text and refuses 76', () => {
    const actions = (text: string) => [{ type: 'actions', elements: [button(text)] }];
    expect(checkMessageBlocks(actions('x'.repeat(75)))).toEqual([]);
    expect(checkMessageBlocks(actions('x'.repeat(76)))).toEqual([
      '[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]',
    ]);
  });

  it('refuses mrkdwn where only plain_text is allowed, and duplicate block ids', () => {
    const errors = checkMessageBlocks([
      { type: 'header', block_id: 'h', text: { type: 'mrkdwn', text: '*x*' } },
      { type: 'divider', block_id: 'h' },
    ]);
    expect(errors).toEqual([
      '[ERROR] must be plain_text [json-pointer:/blocks/0/text/type]',
      '[ERROR] duplicate block_id [json-pointer:/blocks/1/block_id]',
    ]);
  });

  it('limits sections to 3000 characters and 10 fields, and messages to 50 blocks', () => {
    const section = { type: 'section', text: { type: 'mrkdwn', text: 'x'.repeat(3000) } };
    expect(checkMessageBlocks(Array.from({ length: 50 }, () => section))).toEqual([]);
    expect(checkMessageBlocks(Array.from({ length: 51 }, () => section))).toHaveLength(1);
    const fields = Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' }));
    expect(checkMessageBlocks([{ type: 'section', fields }])).toEqual([
      '[ERROR] must provide no more than 10 items [json-pointer:/blocks/0/fields]',
    ]);
  });

  it('refuses duplicate action ids within one actions block, not across blocks', () => {
    const two = (a: string, b: string) => ({
      type: 'actions',
      elements: [
        { ...button('Approve'), action_id: a, value: 'ea-1' },
        { ...button('Approve'), action_id: b, value: 'ea-2' },
      ],
    });
    expect(checkMessageBlocks([two('approve', 'deny')])).toEqual([]);
    expect(checkMessageBlocks([two('approve', 'approve')])).toEqual([
      '[ERROR] duplicate action_id [json-pointer:/blocks/0/elements/1/action_id]',
    ]);
    const one = (value: string) => ({ type: 'actions', elements: [{ ...button('Approve'), value }] });
    expect(checkMessageBlocks([one('ea-1'), one('ea-2')])).toEqual([]);
  });

  it('checks modals: 24-character title, submit required with inputs, 100 blocks', () => {
    expect(checkView(modal(), 'modal')).toEqual([]);
    expect(checkView(modal({ title: plain('x'.repeat(25)) }), 'modal')).toEqual([
      '[ERROR] must be less than 25 characters [json-pointer:/view/title/text]',
    ]);
    const input = {
      type: 'input',
      label: plain('Why'),
      element: { type: 'plain_text_input', action_id: 'i' },
    };
    expect(checkView(modal({ blocks: [input] }), 'modal')).toEqual([
      '[ERROR] must provide submit when an input block is present [json-pointer:/view/submit]',
    ]);
    expect(
      checkView(modal({ blocks: Array.from({ length: 101 }, () => ({ type: 'divider' })) }), 'modal'),
    ).toEqual(['[ERROR] must provide no more than 100 items [json-pointer:/view/blocks]']);
    expect(checkView({ type: 'modal', blocks: [] }, 'home')).toContain(
      '[ERROR] must be "home" [json-pointer:/view/type]',
    );
  });
});

describe('FakeSlack Web API', () => {
  let slack: FakeSlack;
  beforeAll(async () => {
    slack = await FakeSlack.start({
      users: [{ id: 'U0ALICE' }],
      channels: { C0REVIEW: {} },
      // One shared fake for every check below, each posting into C0REVIEW at once.
      rateLimits: { off: 'checks message and view limits, dozens of posts to one channel back to back' },
    });
  });
  afterAll(() => slack.close());

  const call = async (method: string, args: Record<string, unknown>, token = slack.botToken) => {
    const body = new URLSearchParams(
      Object.entries(args).map(([k, v]): [string, string] => [
        k,
        typeof v === 'string' ? v : JSON.stringify(v),
      ]),
    );
    const res = await fetch(`${slack.apiUrl}${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body,
    });
    return (await res.json()) as Record<string, unknown>;
  };

  it('checks tokens and token types', async () => {
    expect(await call('auth.test', {}, 'xoxb-nope')).toEqual({ ok: false, error: 'invalid_auth' });
    expect(await call('apps.connections.open', {})).toEqual({ ok: false, error: 'not_allowed_token_type' });
    expect((await call('apps.connections.open', {}, slack.appToken))['url']).toMatch(
      /^ws:\/\/127\.0\.0\.1:\d+\/link\//,
    );
    expect(await call('no.such.method', {})).toEqual({ ok: false, error: 'unknown_method' });
  });

  it('honours a trigger id once', async () => {
    const { trigger_id } = slack.slashCommand({ command: '/x', user_id: 'U0ALICE' });
    expect((await call('views.open', { trigger_id, view: modal() }))['ok']).toBe(true);
    expect(await call('views.open', { trigger_id, view: modal() })).toEqual({
      ok: false,
      error: 'exchanged_trigger_id',
    });
  });

  it('answers invalid_blocks for 51 blocks, a repeated block_id or a repeated action_id in a block', async () => {
    const divider = (blockId?: string) => ({ type: 'divider', ...(blockId ? { block_id: blockId } : {}) });
    const post = (blocks: unknown[]) => call('chat.postMessage', { channel: 'C0REVIEW', text: 't', blocks });
    expect((await post(Array.from({ length: 50 }, () => divider())))['ok']).toBe(true);
    expect(await post(Array.from({ length: 51 }, () => divider()))).toMatchObject({
      ok: false,
      error: 'invalid_blocks',
    });
    expect(await post([divider('d'), divider('d')])).toMatchObject({ ok: false, error: 'invalid_blocks' });
    const actions = { type: 'actions', elements: [button('A'), button('B')] };
    const refused = await post([actions]);
    expect(refused).toMatchObject({ ok: false, error: 'invalid_blocks' });
    expect(refused['errors']).toEqual([
      '[ERROR] duplicate action_id [json-pointer:/blocks/0/elements/1/action_id]',
    ]);
    // chat.update checks the same: a valid message cannot be updated into an invalid one.
    const ts = String((await post([divider()]))['ts']);
    expect(await call('chat.update', { channel: 'C0REVIEW', ts, blocks: [actions] })).toMatchObject({
      ok: false,
      error: 'invalid_blocks',
    });
  });

  it("a click on one of several buttons with one action id is that button's (its value, its block)", async () => {
    const decide = (id: string) => ({
      type: 'actions',
      block_id: `decide:${id}`,
      elements: [{ ...button('Approve'), value: id }],
    });
    const posted = await call('chat.postMessage', {
      channel: 'C0REVIEW',
      text: 't',
      blocks: [decide('ea-1'), decide('ea-2')],
    });
    const click = (value?: string) =>
      slack.blockActions({
        user_id: 'U0ALICE',
        action_id: 'a',
        channel: 'C0REVIEW',
        message_ts: String(posted['ts']),
        ...(value ? { value } : {}),
      })['actions'] as { value: string; block_id: string }[];
    expect(click('ea-2')[0]).toMatchObject({ value: 'ea-2', block_id: 'decide:ea-2' });
    expect(click()[0]).toMatchObject({ value: 'ea-1', block_id: 'decide:ea-1' });
  });

  it('applies a slowed call after a later one, as Slack applies what arrives first', async () => {
    const ts = String((await call('chat.postMessage', { channel: 'C0REVIEW', text: 'v1' }))['ts']);
    const arrived = slack.slowNext('chat.update', 300, { when: (args) => args['text'] === 'older' });
    const slow = call('chat.update', { channel: 'C0REVIEW', ts, text: 'older' });
    expect((await arrived)['text']).toBe('older');
    expect(slack.message('C0REVIEW', ts)?.text).toBe('v1'); // arrived, not applied yet
    expect((await call('chat.update', { channel: 'C0REVIEW', ts, text: 'newer' }))['ok']).toBe(true);
    expect(slack.message('C0REVIEW', ts)?.text).toBe('newer');
    expect((await slow)['ok']).toBe(true);
    expect(slack.message('C0REVIEW', ts)?.text).toBe('older');
  });

  it('updates only messages that exist, keeping their history, and detects stale view hashes', async () => {
    const posted = await call('chat.postMessage', { channel: 'C0REVIEW', text: 'v1' });
    const ts = String(posted['ts']);
    expect((await call('chat.update', { channel: 'C0REVIEW', ts, text: 'v2' }))['ok']).toBe(true);
    expect(slack.message('C0REVIEW', ts)).toMatchObject({ text: 'v2', history: [{ text: 'v1' }] });

    const { trigger_id } = slack.slashCommand({ command: '/x', user_id: 'U0ALICE' });
    const opened = (await call('views.open', { trigger_id, view: modal() }))['view'] as {
      id: string;
      hash: string;
    };
    expect((await call('views.update', { view_id: opened.id, hash: opened.hash, view: modal() }))['ok']).toBe(
      true,
    );
    expect(await call('views.update', { view_id: opened.id, hash: opened.hash, view: modal() })).toEqual({
      ok: false,
      error: 'hash_conflict',
    });
  });

  it('keeps what was typed across views.update for inputs whose block_id and action_id stay, like Slack', async () => {
    const input = (blockId: string, actionId: string) => ({
      type: 'input',
      block_id: blockId,
      label: plain('Field'),
      element: { type: 'plain_text_input', action_id: actionId },
    });
    const form = (...blocks: object[]) => modal({ submit: plain('Send'), blocks });
    const { trigger_id } = slack.slashCommand({ command: '/x', user_id: 'U0ALICE' });
    const opened = (await call('views.open', { trigger_id, view: form(input('a', 'a'), input('b', 'b')) }))[
      'view'
    ] as { id: string; hash: string };
    // The person types into both fields, then picks something that makes the app re-render the form.
    const typed = (value: string) => ({ type: 'plain_text_input', value });
    slack.enter(opened.id, { a: { a: typed('kept') }, b: { b: typed('lost') } });
    // The update keeps block a as it was and renames block b's action: only a's text survives.
    expect(
      (await call('views.update', { view_id: opened.id, view: form(input('a', 'a'), input('b', 'b2')) }))[
        'ok'
      ],
    ).toBe(true);
    const submitted = slack.viewSubmission({ user_id: 'U0ALICE', view_id: opened.id }) as {
      view: { state: { values: Record<string, Record<string, { value?: string }>> } };
    };
    expect(submitted.view.state.values).toEqual({ a: { a: { type: 'plain_text_input', value: 'kept' } } });
  });

  it('waits for calls without sleeping, and reports what it saw on timeout', async () => {
    const waiting = slack.waitFor('chat.postEphemeral', (c) => c.args.user === 'U0ALICE');
    await call('chat.postEphemeral', { channel: 'C0REVIEW', user: 'U0ALICE', text: 'only you' });
    expect((await waiting).response['ok']).toBe(true);
    await expect(
      slack.waitFor('chat.postEphemeral', (c) => c.args.user === 'U0BOB', { timeoutMs: 50 }),
    ).rejects.toThrow(/no matching chat.postEphemeral call within 50 ms; 1 seen/);
  });

  it('injects failures, including rate limits as HTTP 429', async () => {
    slack.failNext('users.info', 'ratelimited', { retryAfterSeconds: 7 });
    const res = await fetch(`${slack.apiUrl}users.info`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.botToken}` },
      body: new URLSearchParams({ user: 'U0ALICE' }),
    });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    expect((await call('users.info', { user: 'U0ALICE' }))['ok']).toBe(true);
  });
});

describe('FakeSlack is as strict as Slack about the app and the workspace', () => {
  let slack: FakeSlack;
  const manifest = (scopes: string[], home = true) => ({
    features: { app_home: { home_tab_enabled: home } },
    oauth_config: { scopes: { bot: scopes } },
  });
  const start = async (options: Parameters<typeof FakeSlack.start>[0]) => {
    slack = await FakeSlack.start({
      users: [{ id: 'U0ALICE', email: 'alice@example.com' }, { id: 'U0BOB' }],
      ...options,
    });
    return slack;
  };
  afterEach(() => slack?.close());

  const call = async (method: string, args: Record<string, unknown>) => {
    const res = await fetch(`${slack.apiUrl}${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(args),
    });
    return { body: (await res.json()) as Record<string, unknown>, scopes: res.headers.get('x-oauth-scopes') };
  };

  it("answers missing_scope for a method the manifest's scopes do not cover, and reports the scopes", async () => {
    await start({ manifest: manifest(['commands']), channels: { C0A: {} } });
    const { body, scopes } = await call('chat.postMessage', { channel: 'C0A', text: 'hi' });
    expect(body).toMatchObject({ ok: false, error: 'missing_scope', needed: 'chat:write' });
    expect(scopes).toBe('commands');
    expect((await call('auth.test', {})).body['ok']).toBe(true);
  });

  it('reads the repository manifest by default', async () => {
    await start({});
    expect([...slack.scopes]).toEqual(expect.arrayContaining(['chat:write', 'commands']));
  });

  it('knows channel membership: not_in_channel, channel_not_found, user_not_in_channel', async () => {
    await start({
      manifest: manifest(['chat:write', 'channels:read', 'groups:read']),
      channels: {
        C0IN: { members: ['U0ALICE'] },
        C0OUT: { bot: false },
        G0SECRET: { bot: false },
      },
    });
    expect((await call('chat.postMessage', { channel: 'C0IN', text: 'x' })).body['ok']).toBe(true);
    expect((await call('chat.postMessage', { channel: 'C0OUT', text: 'x' })).body).toEqual({
      ok: false,
      error: 'not_in_channel',
    });
    expect((await call('chat.postMessage', { channel: 'G0SECRET', text: 'x' })).body['error']).toBe(
      'channel_not_found',
    );
    expect((await call('chat.postMessage', { channel: 'C0NOWHERE', text: 'x' })).body['error']).toBe(
      'channel_not_found',
    );
    expect(
      (await call('chat.postEphemeral', { channel: 'C0IN', user: 'U0BOB', text: 'x' })).body['error'],
    ).toBe('user_not_in_channel');
    expect((await call('conversations.info', { channel: 'C0OUT' })).body).toMatchObject({
      ok: true,
      channel: { is_member: false, is_private: false },
    });
    expect((await call('conversations.info', { channel: 'G0SECRET' })).body['error']).toBe(
      'channel_not_found',
    );
  });

  it('lets chat:write.public post to a public channel the bot is not in (never a private one)', async () => {
    await start({
      manifest: manifest(['chat:write', 'chat:write.public']),
      channels: { C0OUT: { bot: false }, G0SECRET: { bot: false } },
    });
    expect((await call('chat.postMessage', { channel: 'C0OUT', text: 'x' })).body['ok']).toBe(true);
    expect((await call('chat.postMessage', { channel: 'G0SECRET', text: 'x' })).body['error']).toBe(
      'channel_not_found',
    );
  });

  it('leaves email out of users.info without users:read.email; views.publish needs App Home', async () => {
    await start({ manifest: manifest(['users:read'], false) });
    const user = (await call('users.info', { user: 'U0ALICE' })).body['user'] as { profile: object };
    expect(user.profile).not.toHaveProperty('email');
    expect(
      (await call('views.publish', { user_id: 'U0ALICE', view: { type: 'home', blocks: [] } })).body,
    ).toEqual({ ok: false, error: 'not_enabled' });
  });

  it('answers chat.getPermalink without a scope, for messages in channels the bot can see', async () => {
    await start({
      manifest: manifest(['chat:write']),
      channels: { C0A: {}, G0SECRET: { bot: false, private: true } },
    });
    const ts = String((await call('chat.postMessage', { channel: 'C0A', text: 'x' })).body['ts']);
    expect((await call('chat.getPermalink', { channel: 'C0A', message_ts: ts })).body).toMatchObject({
      ok: true,
      permalink: expect.stringMatching(new RegExp(`/archives/C0A/p${ts.replace('.', '')}$`)),
    });
    expect((await call('chat.getPermalink', { channel: 'C0A', message_ts: '1.000001' })).body['error']).toBe(
      'message_not_found',
    );
    expect((await call('chat.getPermalink', { channel: 'G0SECRET', message_ts: ts })).body['error']).toBe(
      'channel_not_found',
    );
  });

  it('refuses a Home tab over 100 blocks or 250 kB, like Slack', async () => {
    await start({});
    const big = (n: number, chars: number) => ({
      type: 'home',
      blocks: Array.from({ length: n }, () => ({
        type: 'section',
        text: { type: 'mrkdwn', text: 'é'.repeat(chars) },
      })),
    });
    const publish = async (view: object) =>
      (await call('views.publish', { user_id: 'U0ALICE', view })).body as { ok: boolean; error?: string };
    expect((await publish(big(100, 1000))).ok).toBe(true);
    expect(await publish(big(101, 10))).toMatchObject({ ok: false, error: 'invalid_arguments' });
    // 100 sections of 1500 two-byte characters: within every block limit, over 250 kB as a whole.
    expect(await publish(big(100, 1500))).toMatchObject({ ok: false, error: 'view_too_large' });
  });

  it('honours a response_url five times within 30 minutes, and stores ephemeral answers to click', async () => {
    await start({ channels: { C0A: {} } });
    const response_url = String(
      slack.slashCommand({ command: '/x', user_id: 'U0ALICE', channel_id: 'C0A' })['response_url'],
    );
    const post = (body: object) =>
      fetch(response_url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const button = { type: 'button', action_id: 'go', text: { type: 'plain_text', text: 'Go' }, value: 'v' };
    expect((await post({ text: 'one', blocks: [{ type: 'actions', elements: [button] }] })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await post({ text: 'again' })).status).toBe(200);
    const sixth = await post({ text: 'too many' });
    expect(sixth.status).toBe(404);
    expect(await sixth.json()).toEqual({ ok: false, error: 'used_url' });

    const shown = slack.ephemerals.find((e) => e.user === 'U0ALICE' && e.text === 'one');
    const click = slack.blockActions({
      user_id: 'U0ALICE',
      action_id: 'go',
      channel: 'C0A',
      message_ts: String(shown?.message_ts),
    });
    expect(click['container']).toMatchObject({ is_ephemeral: true, channel_id: 'C0A' });
    expect(click).not.toHaveProperty('message');
    expect(() =>
      slack.blockActions({
        user_id: 'U0BOB',
        action_id: 'go',
        channel: 'C0A',
        message_ts: String(shown?.message_ts),
      }),
    ).toThrow(/no message/);

    slack.expireResponseUrls();
    expect(await (await fetch(String(click['response_url']), { method: 'POST', body: '{}' })).json()).toEqual(
      {
        ok: false,
        error: 'expired_url',
      },
    );
  });
});

describe("FakeSlack under Slack's rate limits and error names", () => {
  let slack: FakeSlack | undefined;
  afterEach(async () => {
    await slack?.close();
    slack = undefined;
  });
  const start = async (options: Parameters<typeof FakeSlack.start>[0] = {}) => {
    slack = await FakeSlack.start({
      users: [{ id: 'U0ALICE' }, { id: 'U0BOB' }, { id: 'U0GONE', deleted: true }],
      channels: { C0A: {}, C0B: {} },
      ...options,
    });
    return slack;
  };
  const raw = async (method: string, args: Record<string, unknown>) => {
    const res = await fetch(`${slack?.apiUrl}${method}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${slack?.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(args),
    });
    return {
      status: res.status,
      retryAfter: res.headers.get('retry-after'),
      body: (await res.json()) as {
        ok: boolean;
        error?: string;
        ts?: string;
        channel?: object;
        user?: object;
      },
    };
  };

  it('limits chat.postMessage per channel (a short burst, then about one a second) with 429 + Retry-After', async () => {
    await start({ rateLimits: { speedup: 1 } });
    const posts = [];
    for (let i = 0; i < 6; i++) posts.push(await raw('chat.postMessage', { channel: 'C0A', text: `${i}` }));
    expect(posts.map((p) => p.status)).toEqual([200, 200, 200, 200, 429, 429]);
    expect(posts[4]).toMatchObject({ retryAfter: '1', body: { ok: false, error: 'ratelimited' } });
    // Another channel has its own allowance.
    expect((await raw('chat.postMessage', { channel: 'C0B', text: 'x' })).status).toBe(200);
  });

  it('limits each method by its tier: usergroups.users.list (Tier 2) 20 a minute, Retry-After in seconds', async () => {
    await start({ rateLimits: { speedup: 1 }, usergroups: { S0G: ['U0ALICE'] } });
    for (let i = 0; i < 20; i++)
      expect((await raw('usergroups.users.list', { usergroup: 'S0G' })).status).toBe(200);
    const refused = await raw('usergroups.users.list', { usergroup: 'S0G' });
    expect(refused).toMatchObject({ status: 429, retryAfter: '3', body: { error: 'ratelimited' } });
    // users.info (Tier 4) is not touched by Tier 2's count.
    expect((await raw('users.info', { user: 'U0ALICE' })).status).toBe(200);
  });

  it("runs Slack's clock faster by a stated factor, and refills", async () => {
    const fast = await start({ rateLimits: { speedup: 50 } });
    for (let i = 0; i < 4; i++) await raw('chat.postMessage', { channel: 'C0A', text: `${i}` });
    const refused = await raw('chat.postMessage', { channel: 'C0A', text: 'fifth' });
    expect(refused.status).toBe(429);
    // One message a second at 50x is one per 20 ms of real time: soon allowed again.
    await pollUntil(
      'the channel to take a post again',
      () => raw('chat.postMessage', { channel: 'C0A', text: 'later' }),
      (r) => r.status === 200,
      { timeoutMs: 2_000, intervalMs: 10 },
    );
    expect(fast.rateLimits.speedup).toBe(50);
  });

  it('is on by default, and turns off only with a reason', async () => {
    expect((await start()).rateLimits.enabled).toBe(true);
    await slack?.close();
    slack = undefined;
    await expect(start({ rateLimits: { off: ' ' } })).rejects.toThrow(/needs a reason/);
    const off = await start({ rateLimits: { off: 'counts every call of a burst on purpose' } });
    expect(off.rateLimits.enabled).toBe(false);
    for (let i = 0; i < 10; i++)
      expect((await raw('chat.postMessage', { channel: 'C0A', text: 'x' })).status).toBe(200);
  });

  it("answers with Slack's documented names: is_archived, is_inactive, msg_too_long at 4,000, user_disabled, plan_upgrade_required", async () => {
    await start({ rateLimits: { off: 'checks error names, not limits' }, plan: 'free' });
    const posted = await raw('chat.postMessage', { channel: 'C0A', text: 'hello' });
    slack?.archiveChannel('C0A');
    expect((await raw('chat.postMessage', { channel: 'C0A', text: 'x' })).body).toEqual({
      ok: false,
      error: 'is_archived',
    });
    expect((await raw('chat.update', { channel: 'C0A', ts: posted.body.ts, text: 'x' })).body).toEqual({
      ok: false,
      error: 'is_inactive',
    });
    expect((await raw('conversations.info', { channel: 'C0A' })).body.channel).toMatchObject({
      is_archived: true,
    });
    expect((await raw('chat.postMessage', { channel: 'C0B', text: 'x'.repeat(4_000) })).body.ok).toBe(true);
    expect((await raw('chat.postMessage', { channel: 'C0B', text: 'x'.repeat(4_001) })).body).toEqual({
      ok: false,
      error: 'msg_too_long',
    });
    expect((await raw('conversations.open', { users: 'U0GONE' })).body).toEqual({
      ok: false,
      error: 'user_disabled',
    });
    expect((await raw('users.info', { user: 'U0GONE' })).body.user).toMatchObject({ deleted: true });
    expect((await raw('usergroups.users.list', { usergroup: 'S0G' })).body).toEqual({
      ok: false,
      error: 'plan_upgrade_required',
    });
  });
});

describe('FakeSlack delivers over HTTP only what the manifest has URLs for', () => {
  it('refuses a block_suggestion when the HTTP manifest has no options load URL, and delivers it when it has', async () => {
    const http = readManifest(HTTP_MANIFEST_PATH);
    expect(http.settings?.interactivity?.message_menu_options_url).toMatch(/^https:\/\//);
    const { message_menu_options_url: _gone, ...interactivity } = http.settings?.interactivity ?? {};
    const without = await FakeSlack.start({
      manifest: { ...http, settings: { ...http.settings, interactivity } },
      rateLimits: { off: 'no Web API calls' },
    });
    const opened = await fetch(`${without.apiUrl}views.open`, {
      method: 'POST',
      headers: { authorization: `Bearer ${without.botToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        trigger_id: without.slashCommand({ command: '/eks-access', user_id: 'U0ALICE' }).trigger_id,
        view: modal(),
      }),
    });
    const viewId = ((await opened.json()) as { view: { id: string } }).view.id;
    expect(() =>
      without.blockSuggestion({
        user_id: 'U0ALICE',
        view_id: viewId,
        action_id: 'req_namespace',
        value: 'x',
      }),
    ).toThrow(
      /no block_suggestion: the HTTP manifest declares no settings.interactivity.message_menu_options_url/,
    );
    // A click still goes to interactivity.request_url.
    expect(() => without.viewSubmission({ user_id: 'U0ALICE', view_id: viewId })).not.toThrow();
    await without.close();
  });
});
