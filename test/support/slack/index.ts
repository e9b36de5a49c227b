/**
 * The fake Slack: Slack faked at the wire, for tests that drive the real Bolt App.
 *
 * Slack has no emulator, so this is the one hand-written stand-in of the test platform. It is strict
 * where Slack is strict, so a test fails where Slack would fail the bot:
 *   - Web API at `fake.apiUrl` (…/api/): auth.test, chat.postMessage, chat.update, chat.postEphemeral,
 *     views.open, views.push, views.update, views.publish, users.info, usergroups.users.list,
 *     conversations.open, conversations.info, apps.connections.open. Form-encoded (as @slack/web-api sends, with blocks/view
 *     JSON-encoded) and JSON bodies. Bearer token checked: unknown → invalid_auth, none → not_authed,
 *     bot vs app token mixed up → not_allowed_token_type. Any other method → unknown_method.
 *   - Slack's limits (limits.ts): 50 blocks per message, 100 per view, 3000 characters per section text,
 *     75 per button text, 150 per header, 24 per modal title/submit/close, 4000 per message text, unique
 *     block_ids, submit required with input blocks… → `invalid_blocks` (chat.*) with `errors` and
 *     `response_metadata.messages`, `invalid_arguments` (views.*), `view_too_large`, `msg_too_long`, `no_text`.
 *   - Slack's rate limits, on by default (rate-limits.ts): per method tier and per channel for
 *     chat.postMessage, HTTP 429 + Retry-After + `ratelimited`, on a clock sped up 20x unless
 *     `rateLimits: { speedup }` says otherwise; `rateLimits: { off: 'why' }` only with a reason.
 *   - Slack's error names: archived channels (is_archived / is_inactive), deactivated users (deleted,
 *     user_disabled), a free plan (plan_upgrade_required).
 *   - State like Slack's: messages get unique `ts` (chat.update needs an existing ts of the bot's),
 *     a user id as channel means the DM `D…`, views get ids and hashes (stale hash → hash_conflict),
 *     trigger ids are minted by the fake and work once within 3 s (invalid/exchanged/expired_trigger_id);
 *     `fake.clickedNow(payload)` gives a click prepared earlier the fresh trigger id Slack would mint.
 *   - The app as installed: the fake reads slack-manifest.yml (or `manifest:`) and answers `missing_scope`
 *     (with `needed`/`provided`) for a method its bot scopes do not cover (METHOD_SCOPES in web-api.ts),
 *     names the scopes in `x-oauth-scopes`, leaves `email` out of users.info without users:read.email,
 *     and answers views.publish `not_enabled` when App Home is off.
 *   - The workspace's channels (`channels:` / `fake.addChannel`): any other channel is
 *     `channel_not_found`; a private one without the bot too; a public one without the bot is
 *     `not_in_channel` (chat.postMessage passes with chat:write.public); an ephemeral to someone outside
 *     the channel is `user_not_in_channel`. conversations.info reports `is_member`.
 *   - response_urls work five times within thirty minutes (`used_url`, `expired_url`, HTTP 404;
 *     `fake.expireResponseUrls()`); ephemeral answers are stored in `fake.ephemerals` and can be clicked
 *     (`blockActions` with their channel + message_ts: `container.is_ephemeral`, no `message`).
 *   - Socket Mode (`fake.socket`): apps.connections.open (app token) returns a one-time
 *     ws://127.0.0.1 URL; the client gets `hello` and pings; `send()` pushes an envelope and resolves
 *     with the app's ack payload, or rejects after 3 s without an ack.
 *   - HTTP mode: sendSlashCommand / sendInteraction / sendEvent post correctly signed requests
 *     (v0 HMAC-SHA256 + timestamp) to a Bolt receiver, or forged (`forgeWithSecret`) / stale (`ageSeconds`).
 *   - Every call is recorded (`fake.calls`, `fake.callsTo(m)`), also posts to payloads' response_url
 *     (method 'response_url'); `await fake.waitFor(method, predicate)` instead of sleeping.
 *   - `fake.failNext(method, error)` injects a failure (`ratelimited` → HTTP 429 + Retry-After).
 *
 * Example (Socket Mode):
 *
 *   const slack = await FakeSlack.start({
 *     users: [{ id: 'U0ALICE', email: 'alice@example.com' }, { id: 'U0BOB' }],
 *     usergroups: { S0APPROVERS: ['U0BOB'] },
 *     channels: { C0APPROVALS: {} },          // the bot is in it, as after /invite
 *   });
 *   const app = new App({
 *     token: slack.botToken, appToken: slack.appToken, socketMode: true,
 *     clientOptions: { slackApiUrl: slack.apiUrl }, logLevel: LogLevel.ERROR,
 *   });
 *   await app.start();                       // connects through apps.connections.open
 *   const ack = await slack.socket.send('slash_commands',
 *     slack.slashCommand({ command: '/eks-access', text: 'request test 2h', user_id: 'U0ALICE' }));
 *   const post = await slack.waitFor('chat.postMessage', (c) => c.args.channel === 'C0APPROVALS');
 *   const click = slack.blockActions({ user_id: 'U0BOB', action_id: 'approve',
 *     channel: 'C0APPROVALS', message_ts: String(post.response['ts']) });
 *   await slack.socket.send('interactive', click);
 *   await app.stop(); await slack.close();
 *
 * Example (HTTP): `await app.start(port)`, then
 *   `await sendSlashCommand(\`http://127.0.0.1:${port}/slack/events\`, slack.slashCommand({...}), { signingSecret })`.
 */
export {
  blocksText,
  FakeSlack,
  type FakeSlackOptions,
  HTTP_MANIFEST_PATH,
  MANIFEST_PATH,
  readManifest,
  type SlackManifest,
} from './fake-slack.js';
export { checkMessageBlocks, checkOptionsResponse, checkView, LIMITS } from './limits.js';
export type {
  BlockActionFields,
  SlashCommandFields,
  SlashCommandPayload,
  ViewSubmissionFields,
} from './payloads.js';
export {
  postSigned,
  type SigningOptions,
  type SlackHttpResponse,
  sendEvent,
  sendInteraction,
  sendSlashCommand,
  slackSignature,
} from './signing.js';
export type { EnvelopeType, SocketModeServer } from './socket-mode.js';
export type {
  ArgsOf,
  Block,
  ChannelSpec,
  MethodArgs,
  Obj,
  SlackCall,
  SlackUser,
  StoredMessage,
  View,
} from './types.js';
