// Proof that the fake Slack talks to the real Bolt App the way Slack does: Socket Mode (connection via
// apps.connections.open, envelopes, acks with payloads), HTTP mode (signature and replay checks done by
// Bolt itself), and Web API calls made through Bolt's own client, limits included.
import { App, LogLevel } from '@slack/bolt';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../platform/processes.js';
import { blocksText, FakeSlack, sendInteraction, sendSlashCommand } from '../support/slack/index.js';

const users = [
  { id: 'U0ALICE', name: 'alice', email: 'alice@example.com' },
  { id: 'U0BOB', name: 'bob', email: 'bob@example.com' },
];

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeSlack(): Promise<FakeSlack> {
  const slack = await FakeSlack.start({
    users,
    usergroups: { S0APPROVERS: ['U0BOB'] },
    channels: { C0APPROVALS: {}, C0X: {} },
  });
  cleanups.push(() => slack.close());
  return slack;
}

/** The real Bolt App in Socket Mode, pointed at the fake: the only wiring a test needs. */
function socketModeApp(slack: FakeSlack): App {
  return new App({
    token: slack.botToken,
    appToken: slack.appToken,
    socketMode: true,
    clientOptions: { slackApiUrl: slack.apiUrl },
    logLevel: LogLevel.ERROR,
  });
}

describe('Bolt in Socket Mode against the fake', () => {
  it('connects, receives a slash command, acks with a response payload and calls the Web API', async () => {
    const slack = await fakeSlack();
    const app = socketModeApp(slack);
    app.command('/eks-access', async ({ ack, command, client }) => {
      await ack({ response_type: 'ephemeral', text: `usage for ${command.user_id}` });
      const approvers = await client.usergroups.users.list({ usergroup: 'S0APPROVERS' });
      const profile = await client.users.info({ user: command.user_id });
      await client.chat.postMessage({
        channel: command.user_id,
        text: `hello ${profile.user?.profile?.email}, approvers: ${approvers.users?.join(',')}`,
        blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `*${command.text}*` } }],
      });
    });
    await app.start();
    cleanups.push(() => app.stop() as Promise<void>);
    expect(slack.socket.connections).toBe(1);

    const ack = await slack.socket.send(
      'slash_commands',
      slack.slashCommand({ command: '/eks-access', text: 'help', user_id: 'U0ALICE' }),
    );
    expect(ack).toEqual({ response_type: 'ephemeral', text: 'usage for U0ALICE' });

    const post = await slack.waitFor('chat.postMessage', (c) => c.args.channel === 'U0ALICE');
    expect(post.response).toMatchObject({ ok: true, channel: 'D0ALICE' });
    expect(post.args.text).toBe('hello alice@example.com, approvers: U0BOB');
    expect(blocksText(slack.messages('D0ALICE')[0]?.blocks)).toBe('*help*');
  });

  it('opens a modal with the trigger id and receives its submission', async () => {
    const slack = await fakeSlack();
    const app = socketModeApp(slack);
    app.command('/eks-access', async ({ ack, body, client }) => {
      await ack();
      await client.views.open({
        trigger_id: body.trigger_id,
        view: {
          type: 'modal',
          callback_id: 'request',
          title: { type: 'plain_text', text: 'Request access' },
          submit: { type: 'plain_text', text: 'Request' },
          blocks: [
            {
              type: 'input',
              block_id: 'reason',
              label: { type: 'plain_text', text: 'Why?' },
              element: { type: 'plain_text_input', action_id: 'input' },
            },
          ],
        },
      });
    });
    app.view('request', async ({ ack, view }) => {
      const reason = view.state.values['reason']?.['input']?.value ?? '';
      await ack(
        reason.length < 5 ? { response_action: 'errors', errors: { reason: 'Say a bit more' } } : undefined,
      );
    });
    await app.start();
    cleanups.push(() => app.stop() as Promise<void>);

    await slack.socket.send(
      'slash_commands',
      slack.slashCommand({ command: '/eks-access', user_id: 'U0ALICE' }),
    );
    const opened = await slack.waitFor('views.open');
    expect(opened.response['ok']).toBe(true);
    const viewId = String((opened.response['view'] as { id: string }).id);

    const tooShort = slack.viewSubmission({
      view_id: viewId,
      user_id: 'U0ALICE',
      values: { reason: { input: { type: 'plain_text_input', value: 'x' } } },
    });
    expect(await slack.socket.send('interactive', tooShort)).toEqual({
      response_action: 'errors',
      errors: { reason: 'Say a bit more' },
    });
  });
});

describe('Bolt HTTP receiver against signed requests', () => {
  it('accepts a correctly signed request and answers 401 to a forged or 6-minute-old one', async () => {
    const slack = await fakeSlack();
    const signingSecret = 'test-signing-secret';
    const app = new App({
      token: slack.botToken,
      signingSecret,
      clientOptions: { slackApiUrl: slack.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    const seen: string[] = [];
    app.command('/eks-access', async ({ ack, command }) => {
      seen.push(command.text);
      await ack(`ok: ${command.text}`);
    });
    app.action('approve', async ({ ack, body }) => {
      seen.push(`approve by ${body.user.id}`);
      await ack();
    });
    const port = await freePort();
    await app.start(port);
    cleanups.push(() => app.stop() as Promise<void>);
    const url = `http://127.0.0.1:${port}/slack/events`;
    const command = () => slack.slashCommand({ command: '/eks-access', text: 'help', user_id: 'U0ALICE' });

    const good = await sendSlashCommand(url, command(), { signingSecret });
    expect(good.status).toBe(200);
    expect(good.text).toBe('ok: help');

    expect(
      (await sendSlashCommand(url, command(), { signingSecret, forgeWithSecret: 'not-the-secret' })).status,
    ).toBe(401);
    expect((await sendSlashCommand(url, command(), { signingSecret, ageSeconds: 6 * 60 })).status).toBe(401);
    expect(seen).toEqual(['help']);

    // A click on a button of a message the bot posted, delivered as an interactivity payload.
    const posted = await app.client.chat.postMessage({
      channel: 'C0APPROVALS',
      text: 'request',
      blocks: [
        {
          type: 'actions',
          block_id: 'decision',
          elements: [
            {
              type: 'button',
              action_id: 'approve',
              text: { type: 'plain_text', text: 'Approve' },
              value: 'r1',
            },
          ],
        },
      ],
    });
    const click = slack.blockActions({
      user_id: 'U0BOB',
      action_id: 'approve',
      channel: 'C0APPROVALS',
      message_ts: String(posted.ts),
    });
    expect((await sendInteraction(url, click, { signingSecret })).status).toBe(200);
    expect(seen).toEqual(['help', 'approve by U0BOB']);
  });
});

describe('Web API limits through Bolt’s own client', () => {
  it('refuses what Slack refuses', async () => {
    const slack = await fakeSlack();
    const app = new App({
      token: slack.botToken,
      signingSecret: 'unused',
      clientOptions: { slackApiUrl: slack.apiUrl },
      logLevel: LogLevel.ERROR,
    });
    const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
    const errorOf = async (call: Promise<unknown>) => {
      try {
        await call;
        return 'ok';
      } catch (error) {
        return String((error as { data?: { error?: string } }).data?.error);
      }
    };

    const tooMany = Array.from({ length: 51 }, (_, i) => section(`row ${i}`));
    expect(await errorOf(app.client.chat.postMessage({ channel: 'C0X', text: 't', blocks: tooMany }))).toBe(
      'invalid_blocks',
    );
    expect(
      await errorOf(app.client.chat.postMessage({ channel: 'C0X', text: 't', blocks: tooMany.slice(1) })),
    ).toBe('ok');
    expect(
      await errorOf(
        app.client.chat.postMessage({ channel: 'C0X', text: 't', blocks: [section('x'.repeat(3001))] }),
      ),
    ).toBe('invalid_blocks');
    expect(await errorOf(app.client.chat.postMessage({ channel: 'C0X', text: 'x'.repeat(4_001) }))).toBe(
      'msg_too_long',
    );
    expect(await errorOf(app.client.chat.update({ channel: 'C0X', ts: '1.000001', text: 'x' }))).toBe(
      'message_not_found',
    );
    expect(await errorOf(app.client.users.info({ user: 'U0NOBODY' }))).toBe('user_not_found');
    expect(
      await errorOf(
        app.client.views.open({
          trigger_id: 'made-up',
          view: { type: 'modal', title: { type: 'plain_text', text: 'x' }, blocks: [] },
        }),
      ),
    ).toBe('invalid_trigger_id');
    expect(
      await errorOf(app.client.chat.postMessage({ token: 'xoxb-wrong', channel: 'C0X', text: 't' })),
    ).toBe('invalid_auth');
    const rejected = slack.callsTo('chat.postMessage').filter((c) => c.response['ok'] === false);
    expect(rejected.map((c) => c.response['error'])).toEqual([
      'invalid_blocks',
      'invalid_blocks',
      'msg_too_long',
      'invalid_auth',
    ]);
  });
});
