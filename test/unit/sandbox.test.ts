// The sandbox's pure parts: how a policy is made runnable on one machine (sandbox/policy.ts) and how
// Block Kit becomes HTML (sandbox/blocks.ts), escaped.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mrkdwn, renderBlocks } from '../../sandbox/blocks.js';
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
      mrkdwn(
        '*Active* until `x<y` <https://e.x/?a=1&amp;b=2|the doc> :warning: <@U1>',
        new Map([['U1', 'ana']]),
      ),
    ).toBe(
      '<b>Active</b> until <code>x&lt;y</code> <a href="https://e.x/?a=1&amp;b=2">the doc</a> \u26a0\ufe0f <b>@ana</b>',
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
