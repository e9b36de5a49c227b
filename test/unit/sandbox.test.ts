// The sandbox's pure parts: how a policy is made runnable on one machine (sandbox/policy.ts) and how
// Block Kit becomes HTML (sandbox/blocks.ts), escaped.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mrkdwn, renderBlocks, slackDate } from '../../sandbox/blocks.js';
import { dmCommands } from '../../sandbox/page.js';
import { sandboxPolicy } from '../../sandbox/policy.js';

const emulators = {
  accountId: '123456789012',
  region: 'us-east-1',
  adminKubeconfig: '/run/admin.kubeconfig',
};
const example = readFileSync(new URL('../../policy.example.yaml', import.meta.url), 'utf8');

describe('sandboxPolicy', () => {
  it('points every cluster at the local platform and moves ARNs into its account, keeping the rest', () => {
    const world = sandboxPolicy(example, 'policy.example.yaml', emulators);
    const cluster = world.policy.clusters['prod-eu'];
    expect(cluster?.region).toBe('us-east-1');
    expect(cluster?.accountId).toBe('123456789012');
    expect(cluster?.connection).toEqual({ kubeconfig: { path: '/run/admin.kubeconfig' } });
    expect(cluster?.identityMapping).toBe('aws-auth');
    expect(world.policy.identities.map['U0000ALICE']).toBe('arn:aws:iam::123456789012:user/alice');
    // Levels and approvals are the file's own.
    expect(world.policy.levels['k8s-test-role']?.maxDuration).toBe('4h');
    expect(world.loginCluster).toBe('prod-eu');
    expect(world.namespaces).toEqual(['test']);
    expect(world.channels.sort()).toEqual(['C0APPROVALS', 'C0AUDIT']);
  });

  it('invents two approvers for each user group, and a bystander; the mapped person is the requester', () => {
    const world = sandboxPolicy(example, 'policy.example.yaml', emulators);
    expect(world.people.map((p) => [p.name, p.role, p.iamUser])).toEqual([
      ['alice', 'requester', 'alice'],
      ['ana', 'approver', undefined],
      ['ben', 'approver', undefined],
      ['eve', 'bystander', undefined],
    ]);
    expect(world.usergroups).toEqual({ S0PLATFORM: ['U0SBANA', 'U0SBBEN'] });
  });

  it('refuses an invalid policy with the validator’s words, naming the file', () => {
    expect(() =>
      sandboxPolicy(example.replace('defaultDuration: 1h', 'defaultDuration: soon'), 'mine.yaml', emulators),
    ).toThrow(/mine\.yaml.*defaultDuration/s);
  });
});

describe('Block Kit as HTML', () => {
  it('renders mrkdwn and escapes everything else', () => {
    expect(
      mrkdwn('*Active* until `x<y` <https://e.x/?a=1&amp;b=2|the doc> :warning: <@U1>', {
        users: new Map([['U1', 'ana']]),
      }),
    ).toBe(
      '<b>Active</b> until <code>x&lt;y</code> <a href="https://e.x/?a=1&amp;b=2">the doc</a> \u26a0\ufe0f <b class="mention">@ana</b>',
    );
    expect(mrkdwn('<script>alert(1)</script>')).not.toContain('<script>');
    expect(mrkdwn('```a <b>\nc```')).toBe('<pre>a &lt;b&gt;<br>c</pre>'.replace('<br>', '\n'));
  });

  it('makes each button a form that names the message and the action', () => {
    const html = renderBlocks(
      [
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: 'approve',
              style: 'primary',
              text: { type: 'plain_text', text: 'Approve' },
            },
          ],
        },
      ],
      'U0ANA',
      { channel: 'C1', ts: '1.2' },
    );
    expect(html).toContain('action="/action"');
    expect(html).toContain('name="action_id" value="approve"');
    expect(html).toContain('name="ts" value="1.2"');
    expect(html).toContain('data-action="approve"');
  });
  it('gives a select that Slack reports at once (dispatch_action) a button posting that block action', () => {
    const html = renderBlocks(
      [
        {
          type: 'input',
          block_id: 'req_level',
          dispatch_action: true,
          label: { type: 'plain_text', text: 'Access level' },
          element: {
            type: 'static_select',
            action_id: 'req_level',
            options: [{ text: { type: 'plain_text', text: 'view' }, value: 'view' }],
          },
        },
      ],
      'U0ALICE',
      { viewId: 'V1' },
    );
    expect(html).toContain('name="v:req_level:req_level:static_select"');
    expect(html).toContain('name="dispatch" value="req_level:req_level"');
  });
});

describe('mrkdwn as Slack shows it', () => {
  // 2026-12-05 15:06:09 UTC, as the bot writes its dates (src/adapters/slack/blocks.ts).
  const epoch = Date.UTC(2026, 11, 5, 15, 6, 9) / 1000;
  const date = `<!date^${epoch}^{date_short_pretty} {time}|2026-12-05 15:06 UTC>`;
  const viewer = (timeZone: string, now = Date.UTC(2026, 10, 1)) => ({ timeZone, now });

  it('shows a date in the viewer’s time zone, without the fallback or its @', () => {
    expect(mrkdwn(`Active until ${date}`, viewer('Asia/Tokyo'))).toBe(
      `Active until <time datetime="2026-12-05T15:06:09.000Z" title="2026-12-05T15:06:09.000Z">Dec 6, 2026 12:06 AM</time>`,
    );
    expect(mrkdwn(date, viewer('America/New_York'))).toContain('>Dec 5, 2026 10:06 AM<');
    expect(mrkdwn(date, viewer('Nowhere/Invalid'))).toContain('>Dec 5, 2026 3:06 PM<');
    expect(mrkdwn(date, viewer('UTC'))).not.toContain('@');
  });

  it('says Today, Tomorrow and Yesterday as the _pretty formats do, in the viewer’s day', () => {
    const now = Date.UTC(2026, 11, 5, 12);
    expect(slackDate(epoch, '{date_short_pretty} {time}', { timeZone: 'UTC', now })).toBe('Today 3:06 PM');
    // 00:06 on the 6th in Tokyo, where it is 21:00 on the 5th: tomorrow there, today in UTC.
    expect(slackDate(epoch, '{date_pretty}', { timeZone: 'Asia/Tokyo', now })).toBe('Tomorrow');
    expect(slackDate(epoch, '{date_long_pretty}', { timeZone: 'UTC', now: now + 86_400_000 })).toBe(
      'Yesterday',
    );
    expect(slackDate(epoch, '{date_long} {time_secs} {date_num}', { timeZone: 'UTC', now })).toBe(
      'Saturday, December 5th, 2026 3:06:09 PM 2026-12-05',
    );
    expect(slackDate(epoch, '{ago}', { now: epoch * 1000 + 3 * 60_000 })).toBe('3 minutes ago');
    expect(slackDate(epoch, '{date} {nonsense}', { now })).toBe('December 5th, 2026 {nonsense}');
  });

  it('shows user groups by handle, people by name, special mentions, links, bold and code', () => {
    const v = { users: new Map([['U0SBANA', 'ana']]), groups: new Map([['S0PLATFORM', 'platform']]) };
    expect(mrkdwn('Approvers: <!subteam^S0PLATFORM>, <!subteam^S0OTHER|@sre>, <@U0SBANA>, <@U9>', v)).toBe(
      'Approvers: <b class="mention">@platform</b>, <b class="mention">@sre</b>, <b class="mention">@ana</b>, <b class="mention">@U9</b>',
    );
    expect(mrkdwn('<!here> *now* `kubectl` <https://x.example/a|the doc>', v)).toBe(
      '<b class="mention">@here</b> <b>now</b> <code>kubectl</code> <a href="https://x.example/a">the doc</a>',
    );
  });
});

describe('forms and confirmations', () => {
  const reason = {
    type: 'input',
    block_id: 'req_reason',
    label: { type: 'plain_text', text: 'Reason' },
    element: { type: 'plain_text_input', action_id: 'reason' },
  };

  it('shows a submission’s error under its field, without the block id', () => {
    const html = renderBlocks([reason], 'U0ALICE', { viewId: 'V1' }, {}, { req_reason: 'Say why, please.' });
    expect(html).toContain('<div class="error field-error">Say why, please.</div>');
    expect(html).not.toMatch(/>[^<]*req_reason/);
    expect(html).toContain('class="block input invalid"');
    expect(renderBlocks([reason], 'U0ALICE', { viewId: 'V1' })).not.toContain('error');
  });

  it('gives a button with a confirm object Slack’s dialog: title, text, confirm and deny', () => {
    const html = renderBlocks(
      [
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: 'revoke',
              style: 'danger',
              text: { type: 'plain_text', text: 'Revoke' },
              confirm: {
                title: { type: 'plain_text', text: 'Revoke access?' },
                text: { type: 'mrkdwn', text: '*alice* loses access <!date^1796482800^{time}|now>' },
                confirm: { type: 'plain_text', text: 'Revoke' },
                deny: { type: 'plain_text', text: 'Keep it' },
                style: 'danger',
              },
            },
          ],
        },
      ],
      'U0SBANA',
      { channel: 'C1', ts: '1.2' },
      { timeZone: 'UTC' },
    );
    // The button only opens the dialog; the dialog's confirm submits the click.
    expect(html).toContain(
      'type="button" class="button danger" data-action="revoke" onclick="this.nextElementSibling.showModal()"',
    );
    expect(html).toContain('<dialog class="confirm"><h3>Revoke access?</h3>');
    expect(html).toContain('<b>alice</b> loses access <time');
    expect(html).toContain('data-confirm="deny" onclick="this.closest(\'dialog\').close()">Keep it</button>');
    expect(html).toContain(
      '<button type="submit" class="button danger" data-confirm="confirm">Revoke</button>',
    );
  });
});

describe('dmCommands', () => {
  it('takes the lines of the code block that holds update-kubeconfig', () => {
    const text =
      'Use it:\n```aws eks update-kubeconfig --name a\nkubectl auth can-i get pods -n t\n```\n```other```';
    expect(dmCommands(text)).toEqual([
      'aws eks update-kubeconfig --name a',
      'kubectl auth can-i get pods -n t',
    ]);
  });
});
