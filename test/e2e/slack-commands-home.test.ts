// The read-only commands (help, whoami, list, approvals) and App Home with its buttons, through the
// real Bolt App, the fake Slack, real Redis and (for live grants) the engine's worker.
import { afterEach, describe, expect, it } from 'vitest';
import { slackTime } from '../../src/adapters/slack/blocks.js';
import { blocksText } from '../support/slack/index.js';
import {
  ALICE,
  ANA,
  BEN,
  clickOn,
  EVE,
  ephemeralTo,
  formShown,
  type Harness,
  harnessPool,
  homeWhere,
  NOBODY,
  openHome,
  requestedId,
  untilActive,
} from './harness.js';

const pool = harnessPool();
afterEach(() => pool.closeAll());

async function ask(h: Harness, user: string, text: string): Promise<string> {
  const after = h.slack.calls.length;
  await h.command(user, text);
  return ephemeralTo(h.slack, user, after);
}

describe('commands', () => {
  it('help describes every subcommand with an example', async () => {
    const h = await pool.use();
    const text = await ask(h, EVE, 'help');
    const subcommands = [
      'request',
      'list',
      'approvals',
      'extend',
      'done',
      'cancel',
      'revoke',
      'whoami',
      'help',
    ];
    for (const sub of subcommands) {
      expect(text).toMatch(new RegExp(`• \`/eks-access ${sub}[ \`]`));
      expect(text).toMatch(new RegExp(`e\\.g\\. \`/eks-access ${sub}[ \`]`));
    }
    expect(text).toContain('Without a namespace it opens a form.');
    expect(text).toContain('Durations: `30m`, `2h`, `1h30m`, `1d`.');
    // Unknown words get the same help pointer rather than silence.
    expect(await ask(h, EVE, '')).toContain('/eks-access request');
  });

  it('whoami: the AWS principal and what may be requested, or exactly what an admin must add', async () => {
    const h = await pool.use();
    const alice = await ask(h, ALICE, 'whoami');
    expect(alice).toContain('<@U0ALICE> is `arn:aws:iam::123456789012:user/alice` on AWS');
    expect(alice).toContain(`• \`${h.namespace}\` on \`dev\` as \`debug\`, \`view\``);
    const nobody = await ask(h, NOBODY, 'whoami');
    expect(nobody).toContain('*not mapped to AWS*');
    expect(nobody).toContain(`${NOBODY}: arn:aws:iam::&lt;account&gt;:user/&lt;name&gt;`);
  });

  it('list shows my requests with their state; approvals shows what I may decide, with buttons', async () => {
    const h = await pool.use();
    expect(await ask(h, ALICE, 'list')).toContain('You have no requests');
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 2h because INC-31`);

    const list = await ask(h, ALICE, 'list');
    expect(list).toContain(
      `\`${id}\` · \`debug\` in \`${h.namespace}\` on \`dev\` — Waiting for approval: 0 of 1`,
    );
    expect(await ask(h, EVE, 'list')).toContain('You have no requests');

    for (const approver of [ANA, BEN]) {
      const after = h.slack.calls.length;
      await h.command(approver, 'approvals');
      const reply = await h.slack.waitFor('response_url', (c) => c.responseTo?.user === approver, { after });
      const text = blocksText(reply.args.blocks);
      expect(text).toContain('*Waiting for your approval* (1)');
      expect(text).toContain(id);
      const buttons = JSON.stringify(reply.args.blocks);
      expect(buttons).toContain(`"action_id":"approve","value":"${id}"`);
      expect(buttons).toContain(`"action_id":"deny","value":"${id}"`);
      expect(reply.args.response_type).toBe('ephemeral');
    }
    // The requester is no approver here, and neither is a bystander.
    expect(await ask(h, ALICE, 'approvals')).toContain('Nothing waits for your approval');
    expect(await ask(h, EVE, 'approvals')).toContain('Nothing waits for your approval');
  });
});

function clickHome(h: Harness, user: string, viewId: string, action: string) {
  return h.interact(h.slack.blockActions({ user_id: user, action_id: action, view_id: viewId }));
}

describe('App Home', () => {
  it('opening it publishes the view; Cancel on a pending request works and the view refreshes', async () => {
    const h = await pool.use();
    let after = h.slack.calls.length;
    await openHome(h, ALICE);
    const empty = await homeWhere(h, ALICE, after, () => true);
    expect(empty.text).toContain('No active access.');
    expect(empty.text).toContain('Request access');

    after = h.slack.calls.length;
    const id = await requestedId(h, ALICE, `request ${h.namespace} because INC-32`);
    const pending = await homeWhere(h, ALICE, after, (t) => t.includes(id));
    expect(pending.text).toMatch(new RegExp(`Your pending requests\\n\`${id}\``));

    after = h.slack.calls.length;
    await clickHome(h, ALICE, pending.id, 'cancel');
    const refreshed = await homeWhere(h, ALICE, after, (t) => t.includes('Recently ended'));
    expect(refreshed.text).toContain(`Your pending requests\nNone.`);
    expect(refreshed.text).toContain(`\`${id}\` · \`debug\` in \`${h.namespace}\` on \`dev\` — Cancelled`);
    expect((await h.store.get(id))?.status).toBe('cancelled');
    const message = await h.approvalMessage(id);
    expect(blocksText(h.slack.message(message.channel, message.ts)?.blocks)).toContain(
      'Cancelled* by <@U0ALICE>',
    );
  });

  it('Extend and I’m done on the Home tab act on the live grant and the view follows', async () => {
    const h = await pool.use({ createNamespace: true, worker: true });
    const id = await requestedId(h, ALICE, `request ${h.namespace} for 30m because INC-33`);
    const message = await h.approvalMessage(id);
    let after = h.slack.calls.length;
    await clickOn(h, ANA, 'approve', message);
    await untilActive(h, message);
    const active = await homeWhere(h, ALICE, after, (t) => t.includes('Extend') && t.includes(id));
    const first = (await h.store.get(id))?.expiresAt as number;
    expect(active.text).toContain(`Active until ${slackTime(first)}`);

    // Extend opens a form offering what debug allows (one extension 5m to 4h, within 8h in all),
    // starting on a modest 30m rather than adding hours unasked (issue #19 §3).
    after = h.slack.calls.length;
    await clickHome(h, ALICE, active.id, 'extend');
    const form = await formShown(h, 'views.update', 'extend_modal', after);
    expect(form.view['submit']).toMatchObject({ text: 'Extend' });
    const choice = form.blocks.find((b) => b['block_id'] === 'duration')?.['element'] as {
      options: { value: string; text: { text: string } }[];
      initial_option?: { value: string };
    };
    expect(choice.options.map((o) => o.text.text)).toEqual([
      '5m more',
      '15m more',
      '30m more',
      '1h more',
      '2h more',
      '4h more',
    ]);
    expect(choice.initial_option?.value).toBe('1800');
    expect((await h.store.get(id))?.expiresAt).toBe(first);
    await h.interact(
      h.slack.viewSubmission({
        user_id: ALICE,
        view_id: form.id,
        values: { duration: { value: { type: 'static_select', selected_option: { value: '7200' } } } },
      }),
    );
    const later = first + 7_200_000; // debug extends automatically: the 2h chosen
    const extended = await homeWhere(h, ALICE, after, (t) => t.includes(`Active until ${slackTime(later)}`));
    expect((await h.store.get(id))?.expiresAt).toBe(later);
    await h.slack.waitFor(
      'chat.postMessage',
      (c) => c.args.channel === 'D0ALICE' && blocksText(c.args.blocks).includes('Extended by 2h'),
      { after },
    );

    after = h.slack.calls.length;
    await clickHome(h, ALICE, extended.id, 'done');
    const ended = await homeWhere(h, ALICE, after, (t) => t.includes('Given back'));
    expect(ended.text).toContain('No active access.');
    expect(ended.text).toContain(`Recently ended\n\`${id}\``);
    expect((await h.store.get(id))?.status).toBe('relinquished');
  });
});
