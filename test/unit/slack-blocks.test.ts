import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  activatedDm,
  approvalLayout,
  approvalMessage,
  approvalPostFailedDm,
  approvalsMessage,
  approverReminder,
  auditLine,
  cut,
  deniedModal,
  endedDm,
  errorMessage,
  esc,
  expiringDm,
  extensionDeniedDm,
  helpMessage,
  homeView,
  setupSlowDm,
  sharedApprovalMessage,
  slackTime,
  TARGETS_PER_MESSAGE,
  threadNoteText,
} from '../../src/adapters/slack/blocks.js';
import { parseCommand } from '../../src/adapters/slack/grammar.js';
import { namespaceOptions, requestModal } from '../../src/adapters/slack/modal.js';
import { parsePolicy } from '../../src/config/load.js';
import { expandTargets, resolveRequest } from '../../src/domain/decisions.js';
import { badInput, forbidden, notLinked } from '../../src/domain/errors.js';
import type { Grant } from '../../src/domain/grant.js';
import { commandHelp } from '../../src/domain/text.js';
import { blocksText, checkMessageBlocks, checkView } from '../support/slack/index.js';

const { policy } = parsePolicy(`
settings: { auditChannel: C0AUDIT }
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  debug:
    rules: [{ apiGroups: ["", batch], resources: [jobs, pods], verbs: [create, get] }]
    privileged: true
    defaultDuration: 30m
    maxDuration: 2h
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0ANA, U0BEN] }
        approvals: 2
        channel: C0APPROVAL
        levels: [debug, view]
`);

const NOW = Date.UTC(2026, 0, 1, 12, 0);
const hostile = `<!channel> <@U0EVIL> & *bold* ${'é🔥'.repeat(3000)}`;

function grant(over: Partial<Grant> = {}): Grant {
  return {
    id: 'ea-abcd2345',
    version: 1,
    status: 'pending',
    requester: {
      slackUserId: 'U0BOB',
      principalArn: 'arn:aws:iam::111122223333:user/bob',
      kubernetesUsername: 'eks-access:bob',
    },
    cluster: 'dev',
    namespace: 'test',
    level: 'debug',
    durationSeconds: 7200,
    reason: 'INC-123',
    requiredApprovals: 2,
    approvals: [],
    createdAt: NOW,
    pendingUntil: NOW + 86_400_000,
    extensions: [],
    ...over,
  };
}

describe('Block Kit builders', () => {
  it('escapes markup and cuts to Slack limits without splitting emoji', () => {
    expect(esc('<!channel> & <@U1>')).toBe('&lt;!channel&gt; &amp; &lt;@U1&gt;');
    const cutText = cut('🔥'.repeat(10), 7);
    expect(cutText.length).toBeLessThanOrEqual(7);
    expect(cutText.endsWith('…')).toBe(true);
    expect(cutText).not.toMatch(/[\uD800-\uDBFF]…/); // no lone high surrogate
  });

  it('the approval message shows who, what, where, how long, why, the preview and the decision buttons', () => {
    const m = approvalMessage(policy, grant(), NOW);
    expect(checkMessageBlocks(m.blocks)).toEqual([]);
    const text = blocksText(m.blocks as never);
    for (const part of [
      '<@U0BOB>',
      '`debug`',
      '`test` on `dev`',
      '2h',
      'INC-123',
      'RoleBinding `eks-access-ea-abcd2345`',
      '0 of 2 approvals',
      `Lapses at ${slackTime(NOW + 86_400_000)}`,
    ]) {
      expect(text).toContain(part);
    }
    const buttons = m.blocks
      .filter((b) => b['type'] === 'actions')
      .flatMap((b) => (b['elements'] as { action_id?: string; value?: string }[] | undefined) ?? []);
    expect(buttons.map((b) => [b.action_id, b.value])).toEqual([
      ['approve', 'ea-abcd2345'],
      ['deny', 'ea-abcd2345'],
    ]);
  });

  it('warns approvers of a privileged level, says how, and marks its audit-channel lines', () => {
    const privileged = blocksText(approvalMessage(policy, grant(), NOW).blocks as never);
    expect(privileged).toContain(
      ':warning: *Privileged level debug: whoever holds it can act beyond it (writes pods (runs code as any service account in the namespace)',
    );
    expect(privileged).toContain('It needs 2 approvals.');
    const plain = blocksText(approvalMessage(policy, grant({ level: 'view' }), NOW).blocks as never);
    expect(plain).not.toContain('Privileged');
    expect(blocksText(auditLine(grant(), 'activated', 'system', NOW, true).blocks as never)).toContain(
      ':warning: privileged `debug`',
    );
    expect(
      blocksText(auditLine(grant({ level: 'view' }), 'activated', 'system', NOW).blocks as never),
    ).not.toContain('privileged');
  });

  it('a hostile reason cannot mention anyone and still fits', () => {
    const m = approvalMessage(policy, grant({ reason: hostile }), NOW);
    expect(checkMessageBlocks(m.blocks)).toEqual([]);
    const text = `${m.text} ${blocksText(m.blocks as never)}`;
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<@U0EVIL>');
    expect(text).toContain('&lt;!channel&gt;');
  });

  it('shows quorum progress with the approvers, then the life of the grant without buttons', () => {
    const partial = approvalMessage(policy, grant({ approvals: [{ slackUserId: 'U0ANA', at: NOW }] }), NOW);
    expect(blocksText(partial.blocks as never)).toContain('1 of 2 approvals: <@U0ANA>');
    const active = approvalMessage(
      policy,
      grant({ status: 'active', activatedAt: NOW, expiresAt: NOW + 3_600_000 }),
      NOW,
    );
    expect(blocksText(active.blocks as never)).toContain(
      `Active* until ${slackTime(NOW + 3_600_000)} (1h left)`,
    );
    expect(JSON.stringify(active.blocks)).not.toContain('"approve"');
    const failed = approvalMessage(
      policy,
      grant({ status: 'failed', failure: { reason: 'IAM said no <!here>', at: NOW } }),
      NOW,
    );
    expect(blocksText(failed.blocks as never)).toContain('Failed*: IAM said no &lt;!here&gt;');
  });

  it('the approved DM carries the exact commands', () => {
    const m = activatedDm(policy, grant({ status: 'active', expiresAt: NOW + 3_600_000 }), NOW);
    expect(checkMessageBlocks(m.blocks)).toEqual([]);
    const text = blocksText(m.blocks as never);
    expect(text).toMatch(
      /aws eks update-kubeconfig --name dev --region eu-west-1 --role-arn arn:aws:iam::111122223333:role\/eks-access\/dev\/eksa-bob-[0-9a-f]{10} --alias eks-access-dev-test/,
    );
    expect(text).toContain('kubectl auth can-i create jobs.batch -n test --context eks-access-dev-test');
    // Without a login probe nothing claims a login was proven.
    expect(text).not.toContain('Works now');
  });

  it('the approved DM says the login was proven, and how long AWS took, where the cluster proves logins', () => {
    const m = activatedDm(policy, grant({ status: 'active', expiresAt: NOW + 3_600_000 }), NOW, 4_321);
    expect(checkMessageBlocks(m.blocks)).toEqual([]);
    expect(blocksText(m.blocks as never)).toContain(
      'Works now: eks-access logged in as you through this role 3 times in a row before sending this (AWS took 4.3 s to apply the change).',
    );
  });

  it('the expiry warning offers Extend and I am done', () => {
    const m = expiringDm(grant({ status: 'active', expiresAt: NOW + 600_000 }), NOW);
    expect(blocksText(m.blocks as never)).toContain('10m left');
    expect(JSON.stringify(m.blocks)).toContain('"action_id":"extend"');
    expect(JSON.stringify(m.blocks)).toContain('"action_id":"done"');
  });

  it('errors use the headline table, escape the message and keep our own mentions in hints', () => {
    const m = errorMessage(badInput('"<!channel>" is not a duration', 'The maximum for debug is 2h.'));
    expect(m.text).toContain("That request can't be accepted");
    expect(blocksText(m.blocks as never)).toContain('&lt;!channel&gt;');
    const f = errorMessage(forbidden('You are not an approver', 'Approvers: <@U0ANA>, <!subteam^S0PLAT>.'));
    expect(blocksText(f.blocks as never)).toContain('Approvers: <@U0ANA>, <!subteam^S0PLAT>.');
    // An account nobody linked is not something that "doesn't exist" (issue #19 §6).
    const u = errorMessage(
      notLinked('Your Slack account (U0DORA) is not linked to an AWS user', 'Ask an admin.'),
    );
    expect(blocksText(u.blocks as never)).toMatch(/^\*Your Slack account is not linked to AWS\*/);
    expect(u.text).not.toContain("doesn't exist");
  });

  it('an extension waiting, denied with a hostile reason, or lapsed with the grant', () => {
    const active = { status: 'active', activatedAt: NOW, expiresAt: NOW + 3_600_000 } as const;
    const waiting = approvalMessage(
      policy,
      grant({ ...active, extensionRequest: { by: 'U0BOB', seconds: 1800, at: NOW } }),
      NOW,
    );
    expect(blocksText(waiting.blocks as never)).toContain('<@U0BOB> asks for 30m more.');
    expect(JSON.stringify(waiting.blocks)).toContain('"action_id":"deny_extension"');
    const denial = { by: 'U0ANA', seconds: 1800, reason: hostile, at: NOW };
    const denied = approvalMessage(policy, grant({ ...active, extensionDenial: denial }), NOW);
    const deniedDm = extensionDeniedDm(grant({ ...active, extensionDenial: denial }), NOW);
    for (const m of [denied, deniedDm]) {
      expect(checkMessageBlocks(m.blocks)).toEqual([]);
      const text = blocksText(m.blocks as never);
      expect(text).toContain('An extension of 30m was *denied* by <@U0ANA>: &lt;!channel&gt;');
      expect(text).not.toContain('<!channel>');
      expect(JSON.stringify(m.blocks)).not.toContain('_extension"');
    }
    expect(blocksText(deniedDm.blocks as never)).toContain(
      `still ends at *${slackTime(NOW + 3_600_000)}* (1h left)`,
    );
    const expired = grant({
      status: 'expired',
      endedAt: NOW,
      extensionRequest: { by: 'U0BOB', seconds: 1800, at: NOW },
    });
    expect(blocksText(approvalMessage(policy, expired, NOW).blocks as never)).toContain(
      'not decided before the access ended',
    );
    expect(blocksText(endedDm(expired, NOW).blocks as never)).toContain('not decided in time');
    // A grant that was usable is told what ending it does not cut; one that never was, nothing of that.
    expect(blocksText(endedDm({ ...expired, activatedAt: NOW - 3_600_000 }, NOW).blocks as never)).toContain(
      'keeps running until you close it',
    );
    expect(blocksText(endedDm(expired, NOW).blocks as never)).not.toContain('port-forward');
    expect(checkView(deniedModal('ea-abcd2345', 'C0APPROVAL', 'extension') as never, 'modal')).toEqual([]);
  });

  it('help, home and the modal fit Slack', () => {
    expect(checkMessageBlocks(helpMessage().blocks)).toEqual([]);
    const many = Array.from({ length: 80 }, (_, i) => grant({ id: `ea-aa${String(i).padStart(6, '0')}` }));
    const home = homeView({ now: NOW, live: [], pending: many, recent: [], toApprove: many });
    expect(checkView(home, 'home')).toEqual([]);
    expect(home.blocks.length).toBeLessThanOrEqual(100);
    // Long denial reasons on every recent row: within each block's limit, far over 250 kB together. The
    // Home tab stays under Slack's limit and says what it left out.
    const denied = many.map((g) => ({
      ...g,
      status: 'denied' as const,
      denial: { by: 'U0ANA', reason: 'é'.repeat(3000), at: NOW },
    }));
    const heavy = homeView({ now: NOW, live: [], pending: [], recent: denied, toApprove: [] });
    expect(Buffer.byteLength(JSON.stringify(denied.map((g) => g.denial)))).toBeGreaterThan(250_000);
    expect(checkView(heavy, 'home')).toEqual([]);
    expect(heavy.blocks.length).toBeLessThan(60);
    expect(blocksText(heavy.blocks as never)).toMatch(/…and \d+ more/);
    const modal = requestModal(
      policy,
      { cluster: 'dev', namespace: 'test', level: 'debug' },
      '• RoleBinding',
    );
    expect(checkView(modal, 'modal')).toEqual([]);
    expect(JSON.stringify(modal)).toContain('"text":"2h"');
    expect(JSON.stringify(modal)).not.toContain('"text":"4h"'); // debug's maximum is 2h
  });
});

describe('reading comfort (issue #10)', () => {
  it('marks mrkdwn verbatim, so typed URLs and #channels are not auto-linked', () => {
    const m = approvalMessage(policy, grant({ reason: 'see https://evil.example #general' }), NOW);
    const why = m.blocks.find((b) => JSON.stringify(b).includes('evil.example')) as { text: object };
    expect(why.text).toMatchObject({ type: 'mrkdwn', verbatim: true });
  });

  it('notification texts mention people for real, never by raw id', () => {
    expect(approvalMessage(policy, grant(), NOW).text).toContain('<@U0BOB> wants');
    expect(auditLine(grant(), 'approved', 'U0ANA', NOW).text).toBe('ea-abcd2345 approved by <@U0ANA>');
  });

  it('gives the buttons of an updated message a new block_id', () => {
    const ids = (g: Grant) =>
      approvalMessage(policy, g, NOW)
        .blocks.filter((b) => b['type'] === 'actions')
        .map((b) => b['block_id']);
    expect(ids(grant({ version: 1 }))).not.toEqual(ids(grant({ version: 2 })));
  });
});

describe('approvers are asked (issue #10 §3)', () => {
  const buttons = (blocks: Record<string, unknown>[]) =>
    blocks.filter((b) => b['type'] === 'actions').flatMap((b) => b['elements'] as Record<string, unknown>[]);

  it('shows times as Slack dates with the UTC text as fallback', () => {
    expect(slackTime(NOW)).toBe(`<!date^${NOW / 1000}^{date_short_pretty} {time}|2026-01-01 12:00 UTC>`);
  });

  it('asks before approving a privileged level, and only then, wherever Approve is shown', () => {
    const confirmOf = (level: string) =>
      buttons(approvalMessage(policy, grant({ level }), NOW).blocks).find(
        (b) => b['action_id'] === 'approve',
      )?.['confirm'];
    expect(confirmOf('debug')).toMatchObject({ title: { text: 'Approve privileged access?' } });
    expect(confirmOf('view')).toBeUndefined();
    const list = approvalsMessage([grant()], NOW, [], (level) => level === 'debug');
    expect(buttons(list.blocks).find((b) => b['action_id'] === 'approve')?.['confirm']).toBeDefined();
    expect(checkMessageBlocks(list.blocks as never)).toEqual([]);
  });

  it('an active grant carries Revoke with a confirm dialog; I am done asks first', () => {
    const active = grant({ status: 'active', activatedAt: NOW, expiresAt: NOW + 3_600_000 });
    const revoke = buttons(approvalMessage(policy, active, NOW).blocks).find(
      (b) => b['action_id'] === 'revoke',
    );
    expect(revoke).toMatchObject({ style: 'danger', confirm: { confirm: { text: 'Revoke' } } });
    const done = buttons(activatedDm(policy, active, NOW).blocks).find((b) => b['action_id'] === 'done');
    expect(done?.['confirm']).toMatchObject({ title: { text: 'Give access back?' } });
    expect(checkMessageBlocks(approvalMessage(policy, active, NOW).blocks as never)).toEqual([]);
  });

  it('every status change has a thread line; typed reasons stay text', () => {
    const denied = grant({ status: 'denied' });
    expect(threadNoteText(denied, { kind: 'denied', by: 'U0ANA', reason: '<!channel> no' }, NOW)).toBe(
      ':x: Denied by <@U0ANA>: &lt;!channel&gt; no',
    );
    const active = grant({ status: 'active', expiresAt: NOW + 3_600_000 });
    expect(threadNoteText(active, { kind: 'activated' }, NOW)).toContain(slackTime(NOW + 3_600_000));
    expect(threadNoteText(grant(), { kind: 'cancelled', by: 'system', why: 'lapsed' }, NOW)).toContain(
      'Lapsed',
    );
    expect(threadNoteText(grant(), { kind: 'expiring-soon' }, NOW)).toBeUndefined();
  });

  it('the approval message mentions the approvers while it waits, not after', () => {
    expect(blocksText(approvalMessage(policy, grant(), NOW).blocks as never)).toContain(
      '*Approvers:* <@U0ANA> <@U0BEN>',
    );
    const active = grant({ status: 'active', expiresAt: NOW + 3_600_000 });
    expect(blocksText(approvalMessage(policy, active, NOW).blocks as never)).not.toContain('Approvers:');
  });

  it('the reminder mentions the approvers and says when it lapses', () => {
    const m = approverReminder(grant(), '<!subteam^S0OPS> <@U0ANA>', NOW);
    expect(m.text).toContain('<!subteam^S0OPS> <@U0ANA> <@U0BOB> still waits for 2 approval(s)');
    expect(m.text).toContain(`lapses ${slackTime(NOW + 86_400_000)} (1d left)`);
  });
});

describe('namespaces past 100 (issue #10 §4)', () => {
  const names = Array.from({ length: 130 }, (_, i) => `team-${String(i).padStart(3, '0')}`);
  const { policy: wide } = parsePolicy(`
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:
${names.map((n) => `      - { name: ${n}, approvers: { users: [U0ANA] }, channel: C0APPROVAL, levels: [view] }`).join('\n')}
`);

  it('the form offers a search instead of a static select that would drop 30 of them', () => {
    const view = requestModal(wide, { cluster: 'dev' }, undefined);
    const ns = (view['blocks'] as Record<string, unknown>[]).find((b) => b['block_id'] === 'req_namespace');
    expect(ns?.['element']).toMatchObject({ type: 'external_select', min_query_length: 0 });
    expect(checkView(view, 'modal')).toEqual([]);
    // A namespace already chosen stays shown as chosen.
    const chosen = requestModal(wide, { cluster: 'dev', namespace: 'team-129' }, undefined);
    const again = (chosen['blocks'] as Record<string, unknown>[]).find(
      (b) => b['block_id'] === 'req_namespace',
    );
    expect(again?.['element']).toMatchObject({ initial_option: { value: 'team-129' } });
  });

  it('the search finds by any part of the name, exact and prefix first, at most 100', () => {
    expect(namespaceOptions(wide, 'dev', '')).toHaveLength(100);
    expect(namespaceOptions(wide, 'dev', '12').map((o) => o.value)).toEqual([
      'team-012',
      'team-112',
      ...Array.from({ length: 10 }, (_, i) => `team-12${i}`),
    ]);
    expect(namespaceOptions(wide, 'dev', 'TEAM-129').map((o) => o.value)).toEqual(['team-129']);
    expect(namespaceOptions(wide, 'dev', 'team-12').map((o) => o.value)[0]).toBe('team-120');
    expect(namespaceOptions(wide, 'nowhere', 'team')).toEqual([]);
  });
});

describe('a request on several targets shares one message per approval channel (issue #14 §2)', () => {
  // Thirty namespaces on dev share C0SHARED; staging's `test` uses it too; prod's is elsewhere.
  const many = Array.from(
    { length: 30 },
    (_, i) => `      - { name: ns${i}, approvers: { users: [U0ANA] }, channel: C0SHARED, levels: [view] }`,
  ).join('\n');
  const { policy: multi } = parsePolicy(`
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:
${many}
  staging:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:
      - { name: test, approvers: { users: [U0BEN] }, channel: C0SHARED, levels: [view] }
  prod:
    region: eu-west-1
    accountId: "444455556666"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:
      - { name: test, approvers: { users: [U0CAT] }, channel: C0PROD, levels: [view] }
`);
  const target = (id: string, cluster: string, namespace: string, over: Partial<Grant> = {}): Grant =>
    grant({
      id,
      cluster,
      namespace,
      level: 'view',
      requiredApprovals: 1,
      group: { id: 'ea-first000', size: 3, targets: [] },
      ...over,
    });
  const dev = target('ea-first000', 'dev', 'ns0');
  const staging = target('ea-second00', 'staging', 'test');
  const prod = target('ea-third000', 'prod', 'test', {
    requester: { ...dev.requester, principalArn: 'arn:aws:iam::444455556666:user/bob' },
  });
  const actions = (blocks: Record<string, unknown>[]) =>
    blocks
      .filter((b) => b['type'] === 'actions')
      .flatMap((b) => (b['elements'] as Record<string, unknown>[]).map((e) => [e['action_id'], e['value']]));

  it('groups the targets by approval channel in request order; another channel gets its own message', () => {
    const layout = approvalLayout(multi, [dev, prod, staging]);
    expect(layout.map((p) => [p.channel, p.part, p.parts, p.grants.map((g) => g.id)])).toEqual([
      ['C0SHARED', 0, 1, ['ea-first000', 'ea-second00']],
      ['C0PROD', 0, 1, ['ea-third000']],
    ]);
    // A target whose namespace left the policy has no channel, and no message.
    expect(
      approvalLayout(multi, [target('ea-gone0000', 'dev', 'gone'), dev]).map((p) => p.grants.length),
    ).toEqual([1]);
  });

  it('the shared message: the request once, each target with its status and its own buttons', () => {
    const approved = { ...staging, status: 'active' as const, activatedAt: NOW, expiresAt: NOW + 3_600_000 };
    approved.approvals = [{ slackUserId: 'U0BEN', at: NOW }];
    const m = sharedApprovalMessage(multi, [dev, approved], NOW);
    expect(checkMessageBlocks(m.blocks as never)).toEqual([]);
    const text = blocksText(m.blocks as never);
    expect(text.match(/INC-123/g)).toHaveLength(1); // why: once, for the request
    expect(text).toContain('*`ns0` on `dev`* · `ea-first000`');
    expect(text).toContain('*`test` on `staging`* · `ea-second00`');
    expect(text).toContain('*Waiting for approval*');
    expect(text).toContain('*Active* until');
    expect(text).toContain('*Approvers:* <@U0ANA>'); // the pending target's approvers, mentioned
    expect(text).not.toContain('*Approvers:* <@U0BEN>'); // the decided target's are not asked again
    expect(actions(m.blocks)).toEqual([
      ['approve', 'ea-first000'],
      ['deny', 'ea-first000'],
      ['revoke', 'ea-second00'],
    ]);
    // The fallback text mentions the requester for real and names each target's state.
    expect(m.text).toContain('<@U0BOB> wants view');
    expect(m.text).toContain('ns0 on dev: Waiting');
    expect(m.text).toContain('test on staging: Active');
  });

  it('an extension asked on a shared message gets its buttons beside Revoke, block ids stay unique', () => {
    const asked = {
      ...dev,
      status: 'active' as const,
      activatedAt: NOW,
      expiresAt: NOW + 3_600_000,
      extensionRequest: { by: 'U0BOB', at: NOW, seconds: 1800, id: 'x1' },
    } as Grant;
    const m = sharedApprovalMessage(multi, [asked, staging], NOW);
    expect(checkMessageBlocks(m.blocks as never)).toEqual([]);
    expect(actions(m.blocks).map(([a]) => a)).toEqual([
      'revoke',
      'approve_extension',
      'deny_extension',
      'approve',
      'deny',
    ]);
    expect(blocksText(m.blocks as never)).toContain('asks for 30m more');
  });

  it('differing levels or principals are shown per target, not in the header', () => {
    const m = sharedApprovalMessage(multi, [dev, { ...staging, level: 'edit' }], NOW);
    const text = blocksText(m.blocks as never);
    expect(text).toContain('*What*\nper target, below');
    expect(text).toContain('· `edit`');
    const arns = sharedApprovalMessage(multi, [dev, prod], NOW);
    expect(blocksText(arns.blocks as never)).toContain('`arn:aws:iam::444455556666:user/bob`');
  });

  it('splits a channel into as few messages as fit 50 blocks, each valid whatever the states', () => {
    const all = Array.from({ length: 30 }, (_, i) =>
      target(`ea-${String(i).padStart(8, 'x')}`, 'dev', `ns${i}`, {
        status: i % 2 ? 'pending' : 'active',
        activatedAt: NOW,
        expiresAt: NOW + 3_600_000,
        ...(i % 3 === 0 ? { extensionRequest: { by: 'U0BOB', at: NOW, seconds: 600, id: `x${i}` } } : {}),
      }),
    );
    const layout = approvalLayout(multi, all);
    expect(layout.map((p) => p.grants.length)).toEqual([
      TARGETS_PER_MESSAGE,
      TARGETS_PER_MESSAGE,
      30 - 2 * TARGETS_PER_MESSAGE,
    ]);
    expect(layout.flatMap((p) => p.grants.map((g) => g.id))).toEqual(all.map((g) => g.id));
    for (const part of layout) {
      const m = sharedApprovalMessage(multi, part.grants, NOW, part);
      expect(m.blocks.length).toBeLessThanOrEqual(50);
      expect(checkMessageBlocks(m.blocks as never)).toEqual([]);
      // Nothing was cut: every target of this part keeps its buttons.
      expect(new Set(actions(m.blocks).map(([, v]) => String(v).split('/')[0]))).toEqual(
        new Set(part.grants.map((g) => g.id)),
      );
      expect(blocksText(m.blocks as never)).toContain(`(part ${part.part + 1} of 3)`);
    }
    // The layout depends on the targets, never on their state: deciding one moves nobody.
    const decided = all.map((g) => ({ ...g, status: 'denied' as const }));
    expect(approvalLayout(multi, decided).map((p) => p.grants.map((g) => g.id))).toEqual(
      layout.map((p) => p.grants.map((g) => g.id)),
    );
  });

  it('thread notes name the target; the post-failed DM names every target of that channel once', () => {
    expect(threadNoteText(dev, { kind: 'approved', by: 'U0ANA' }, NOW)).toBe(
      '`ns0` on `dev` (`ea-first000`): :white_check_mark: Approved by <@U0ANA>; setting up access.',
    );
    expect(threadNoteText(grant(), { kind: 'approved', by: 'U0ANA' }, NOW)).toBe(
      ':white_check_mark: Approved by <@U0ANA>; setting up access.',
    );
    const dm = approvalPostFailedDm([dev, staging], 'C0SHARED', 'not_in_channel');
    const text = blocksText(dm.blocks as never);
    expect(text).toContain('The 2 targets of your request `ea-first000`');
    expect(text).toContain('`ea-second00` `test` on `staging`');
    expect(dm.text).toContain('ea-first000');
  });
});

describe('help in the running policy’s own names (issue #19 §6)', () => {
  const example = parsePolicy(
    readFileSync(new URL('../../policy.example.yaml', import.meta.url), 'utf8'),
    'policy.example.yaml',
  ).policy;

  it('every request example names a namespace, cluster and level the policy offers, and is accepted as typed', () => {
    const text = blocksText(helpMessage(example).blocks as never);
    expect(text).toContain('/eks-access request test for 1h because CHG-1234');
    expect(text).not.toMatch(/payments|staging|on prod /);
    const requests = commandHelp(example)
      .map((c) => c.example)
      .filter((e) => e.startsWith('request '));
    expect(requests.length).toBe(3);
    for (const typed of requests) {
      const command = parseCommand(typed);
      if (command.kind !== 'request') throw new Error(`${typed} does not parse as a request`);
      const { kind: _, ...input } = command;
      for (const target of expandTargets(example, input)) {
        expect(() => resolveRequest(example, { ...input, ...target }, NOW)).not.toThrow();
      }
    }
  });
});

describe('a grant whose setup takes longer than the deadline (issue #19 §8)', () => {
  const approved = grant({
    status: 'approved',
    approvals: [{ slackUserId: 'U0ANA', at: NOW }],
    decidedAt: NOW,
  });
  const deadline = 300_000; // the policy's default setupDeadline, 5m

  it('reads "setting up access…" until the deadline, then says it takes longer and what to do', () => {
    const before = blocksText(approvalMessage(policy, approved, NOW + deadline - 1).blocks as never);
    expect(before).toContain('setting up access…');
    const after = blocksText(approvalMessage(policy, approved, NOW + deadline).blocks as never);
    expect(after).toContain('setting up access is taking longer than expected');
    expect(after).toContain(`it was due ${slackTime(NOW + deadline)}`);
    expect(after).toContain('eks-access worker is running');
    // An active grant, or a window not open yet, is not late.
    const active = grant({ status: 'active', activatedAt: NOW, expiresAt: NOW + 7_200_000 });
    expect(blocksText(approvalMessage(policy, active, NOW + 2 * deadline).blocks as never)).not.toContain(
      'longer than expected',
    );
    const window = { ...approved, startsAt: NOW + 3_600_000 };
    expect(blocksText(approvalMessage(policy, window, NOW + 2 * deadline).blocks as never)).toContain(
      'opens at',
    );
  });

  it('the requester is told, and the thread note mentions them', () => {
    const dm = setupSlowDm(approved, NOW + deadline, deadline);
    expect(dm.text).toBe('Setting up your access ea-abcd2345 is taking longer than expected');
    expect(checkMessageBlocks(dm.blocks)).toEqual([]);
    expect(threadNoteText(approved, { kind: 'setup-overdue' }, NOW + deadline)).toContain(
      '<@U0BOB> is taking longer than expected',
    );
  });
});
