import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import type { Policy } from '../../src/config/policy.js';
import {
  assertMayDecide,
  assertMayDecideExtension,
  assertNoExtensionWaiting,
  assertNotAlreadyHeld,
  assertPrincipalAccepted,
  assertUniqueIdentity,
  autoApproveRuleFor,
  decideExtension,
  defaultExtension,
  extensionApprovalsRequired,
  extensionChoices,
  extensionClaimRefusal,
  heldAccess,
  identityFromMap,
  namespaceMatches,
  quorumReached,
  requestFieldOf,
  resolveRequest,
} from '../../src/domain/decisions.js';
import { formatDuration, parseDuration } from '../../src/domain/duration.js';
import type { AccessError } from '../../src/domain/errors.js';
import { canTransition, type Grant, transition } from '../../src/domain/grant.js';

const { policy } = parsePolicy(`
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h, extend: { mode: auto, maxTotal: 6h } }
  debug:
    rules: [{ apiGroups: [""], resources: [pods, pods/log], verbs: [get, list] }]
    defaultDuration: 30m
    maxDuration: 2h
    allowSelfApproval: true
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0ANA], groups: [S0PLATFORM] }
        channel: C0APPROVAL
        levels: [view, debug]
        allowSelfApproval: true
        autoApprove: [{ levels: [view], maxDuration: 1h }]
      - name: team-*
        approvers: { users: [U0BEN] }
        channel: C0TEAMS
        levels: [debug]
  prod:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0ANA] }
        channel: C0APPROVAL
        levels: [view]
`);

const kindOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return {
      kind: (error as AccessError).kind,
      message: (error as AccessError).message,
      hint: (error as AccessError).hint,
      details: (error as AccessError).details,
    };
  }
  return undefined;
};

describe('durations', () => {
  it('round-trips the forms people type', () => {
    expect(parseDuration('30m')).toBe(1800);
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('1d')).toBe(86400);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('2 hours')).toBeUndefined();
    expect(formatDuration(5400)).toBe('1h30m');
  });
});

describe('resolving a request against the policy', () => {
  it('defaults the level and duration and finds the cluster from the namespace pattern', () => {
    const r = resolveRequest(policy, { namespace: 'team-a', reason: 'INC-1' });
    expect(r).toMatchObject({ cluster: 'dev', level: 'debug', durationSeconds: 1800, requiredApprovals: 1 });
    expect(namespaceMatches('team-*', 'team-a')).toBe(true);
    expect(namespaceMatches('team-*', 'other')).toBe(false);
  });

  it('names the field each refusal is about, so a form can show it there', () => {
    const fieldOf = (input: Parameters<typeof resolveRequest>[1]) =>
      requestFieldOf(kindOf(() => resolveRequest(policy, input))?.details ?? {});
    expect(fieldOf({ namespace: 'nope', reason: 'x' })).toBe('namespace');
    expect(fieldOf({ namespace: 'test', cluster: 'mars', reason: 'x' })).toBe('cluster');
    expect(fieldOf({ namespace: 'test', cluster: 'dev', level: 'admin', reason: 'x' })).toBe('level');
    expect(fieldOf({ namespace: 'team-a', duration: '9h', reason: 'x' })).toBe('duration');
    expect(fieldOf({ namespace: 'team-a', duration: 'soon', reason: 'x' })).toBe('duration');
    expect(fieldOf({ namespace: 'team-a', reason: ' ' })).toBe('reason');
    expect(requestFieldOf({ field: 'token' })).toBeUndefined();
  });

  it('explains every refusal and lists the valid choices', () => {
    expect(kindOf(() => resolveRequest(policy, { namespace: 'nope', reason: 'x' }))).toMatchObject({
      kind: 'not_found',
      hint: expect.stringContaining('test (dev)'),
    });
    expect(kindOf(() => resolveRequest(policy, { namespace: 'Bad_Name', reason: 'x' }))?.kind).toBe(
      'bad_input',
    );
    expect(kindOf(() => resolveRequest(policy, { namespace: 'test', reason: 'x' }))?.message).toContain(
      'several clusters: dev, prod',
    );
    expect(
      kindOf(() =>
        resolveRequest(policy, { namespace: 'test', cluster: 'dev', level: 'admin', reason: 'x' }),
      ),
    ).toMatchObject({
      kind: 'not_found',
      hint: 'Levels here: view, debug.',
    });
    expect(
      kindOf(() =>
        resolveRequest(policy, {
          namespace: 'test',
          cluster: 'dev',
          level: 'view',
          duration: '5h',
          reason: 'x',
        }),
      ),
    ).toMatchObject({ kind: 'bad_input', message: 'You asked for 5h; view allows at most 4h' });
    // In the unit the person typed, not 41d16h.
    expect(
      kindOf(() =>
        resolveRequest(policy, {
          namespace: 'test',
          cluster: 'dev',
          level: 'view',
          duration: '1000h',
          reason: 'x',
        }),
      )?.message,
    ).toBe('You asked for 1000h; view allows at most 4h');
    expect(
      kindOf(() => resolveRequest(policy, { namespace: 'team-a', duration: 'soon', reason: 'x' }))?.hint,
    ).toContain('maximum');
    expect(kindOf(() => resolveRequest(policy, { namespace: 'team-a' }))?.message).toBe(
      'A reason is required for this namespace',
    );
  });
});

const grant = (over: Partial<Grant> = {}): Grant => ({
  id: 'ea-abcdefgh',
  version: 1,
  status: 'pending',
  requester: {
    slackUserId: 'U0REQ',
    principalArn: 'arn:aws:iam::111122223333:user/req',
    kubernetesUsername: 'eks-access:req',
  },
  cluster: 'dev',
  namespace: 'test',
  level: 'view',
  durationSeconds: 3600,
  reason: 'x',
  requiredApprovals: 1,
  approvals: [],
  createdAt: 0,
  pendingUntil: 1,
  extensions: [],
  ...over,
});

describe('who may decide', () => {
  it('accepts approvers by user id or user group, and refuses everyone else', () => {
    expect(() =>
      assertMayDecide(policy, grant(), { slackUserId: 'U0ANA', memberOfGroups: [] }),
    ).not.toThrow();
    expect(() =>
      assertMayDecide(policy, grant(), { slackUserId: 'U0X', memberOfGroups: ['S0PLATFORM'] }),
    ).not.toThrow();
    expect(
      kindOf(() => assertMayDecide(policy, grant(), { slackUserId: 'U0X', memberOfGroups: [] }))?.kind,
    ).toBe('forbidden');
  });

  it('refuses self-approval unless both the namespace and the level allow it', () => {
    const self = { slackUserId: 'U0ANA', memberOfGroups: [] };
    const mine = (level: string) =>
      grant({ level, requester: { ...grant().requester, slackUserId: 'U0ANA' } });
    expect(kindOf(() => assertMayDecide(policy, mine('view'), self))?.message).toBe(
      'You cannot approve your own request',
    );
    expect(() => assertMayDecide(policy, mine('debug'), self)).not.toThrow();
  });

  it('does not count the same approver twice towards a quorum', () => {
    const g = grant({ approvals: [{ slackUserId: 'U0ANA', at: 0 }] });
    expect(kindOf(() => assertMayDecide(policy, g, { slackUserId: 'U0ANA', memberOfGroups: [] }))?.kind).toBe(
      'forbidden',
    );
  });

  it('auto-approves only within the rule', () => {
    const ns = policy.clusters['dev']?.namespaces[0];
    if (!ns) throw new Error('fixture');
    const who = { slackUserId: 'U0REQ', memberOfGroups: [] };
    expect(autoApproveRuleFor(ns, { level: 'view', durationSeconds: 3600, ...who })?.index).toBe(0);
    expect(autoApproveRuleFor(ns, { level: 'view', durationSeconds: 3601, ...who })).toBeUndefined();
    expect(autoApproveRuleFor(ns, { level: 'debug', durationSeconds: 60, ...who })).toBeUndefined();
  });
});

describe('deciding an extension', () => {
  const ana = { slackUserId: 'U0ANA', memberOfGroups: [] };
  const waiting = (over: Partial<Grant> = {}) =>
    grant({ status: 'active', extensionRequest: { by: 'U0ALICE', seconds: 1800, at: 0 }, ...over });

  it('needs an extension waiting on an active grant', () => {
    expect(kindOf(() => assertMayDecideExtension(policy, grant({ status: 'active' }), ana))?.kind).toBe(
      'conflict',
    );
    expect(kindOf(() => assertMayDecideExtension(policy, waiting({ status: 'expired' }), ana))?.kind).toBe(
      'conflict',
    );
    expect(() => assertMayDecideExtension(policy, waiting(), ana)).not.toThrow();
  });

  it('lets the approver of the request decide its extension, but not a non-approver or the asker', () => {
    const approvedByAna = waiting({ approvals: [{ slackUserId: 'U0ANA', at: 0 }] });
    expect(() => assertMayDecideExtension(policy, approvedByAna, ana)).not.toThrow();
    expect(
      kindOf(() => assertMayDecideExtension(policy, waiting(), { slackUserId: 'U0X', memberOfGroups: [] }))
        ?.kind,
    ).toBe('forbidden');
    const anasOwn = waiting({ requester: { ...grant().requester, slackUserId: 'U0ANA' } });
    expect(kindOf(() => assertMayDecideExtension(policy, anasOwn, ana))?.message).toBe(
      'You cannot decide your own extension',
    );
  });

  it('decides only the ask its button showed: a newer ask refuses the old button, naming the new amount', () => {
    const asked = waiting({ extensionRequest: { id: 'xnew234', by: 'U0ALICE', seconds: 7200, at: 5 } });
    expect(() => assertMayDecideExtension(policy, asked, ana, { id: 'xnew234' })).not.toThrow();
    const stale = kindOf(() => assertMayDecideExtension(policy, asked, ana, { id: 'xold234' }));
    expect(stale?.kind).toBe('conflict');
    expect(stale?.message).toContain('is no longer waiting; 2h more is asked now');
    // A button without an id never decides an ask that has one.
    expect(kindOf(() => assertMayDecideExtension(policy, asked, ana, {}))?.kind).toBe('conflict');
    // An ask already denied says so, by id.
    const denied = grant({
      status: 'active',
      extensionDenial: { id: 'xold234', by: 'U0ANA', seconds: 1800, reason: 'no', at: 1 },
    });
    expect(kindOf(() => assertMayDecideExtension(policy, denied, ana, { id: 'xold234' }))?.message).toContain(
      'already denied by <@U0ANA>',
    );
    // One claimed and being applied by the worker names who approved it.
    const applying = grant({
      status: 'active',
      extensionsApplying: [{ id: 'xold234', by: 'U0BEN', seconds: 1800, at: 1, auto: false }],
    });
    expect(
      kindOf(() => assertMayDecideExtension(policy, applying, ana, { id: 'xold234' }))?.message,
    ).toContain('already approved by <@U0BEN>');
  });

  it('counts each approver once towards the same quorum as the request, and never fewer than it needed', () => {
    expect(quorumReached([{ slackUserId: 'U0A', at: 0 }], 2)).toBe(false);
    expect(
      quorumReached(
        [
          { slackUserId: 'U0A', at: 0 },
          { slackUserId: 'U0A', at: 1 },
        ],
        2,
      ),
    ).toBe(false);
    expect(
      quorumReached(
        [
          { slackUserId: 'U0A', at: 0 },
          { slackUserId: 'U0B', at: 1 },
        ],
        2,
      ),
    ).toBe(true);
    expect(extensionApprovalsRequired(policy, waiting({ requiredApprovals: 2 }))).toBe(2);
    expect(extensionApprovalsRequired(policy, waiting({ requiredApprovals: 1 }))).toBe(1);
    // An approver who approved the extension already cannot count twice.
    const once = waiting({
      extensionRequest: {
        id: 'xabc234',
        by: 'U0ALICE',
        seconds: 60,
        at: 0,
        approvals: [{ slackUserId: 'U0ANA', at: 0 }],
      },
    });
    expect(kindOf(() => assertMayDecideExtension(policy, once, ana, { id: 'xabc234' }))?.message).toBe(
      'You already approved this extension',
    );
  });

  it('the worker applies an automatic claim on a break-glass use never, whatever the level allows', () => {
    const claim = { seconds: 1800, auto: true };
    const active = grant({ status: 'active', level: 'view' });
    expect(extensionClaimRefusal(policy, active, claim)).toBeUndefined();
    const use = { rule: 'oncall', incident: 'INC-1', reviewDue: 0 };
    expect(extensionClaimRefusal(policy, { ...active, breakGlass: use }, claim)).toBe(
      'a break-glass use is extended only by an approver',
    );
  });

  it('allows one waiting extension at a time', () => {
    expect(() => assertNoExtensionWaiting(grant({ status: 'active' }))).not.toThrow();
    const error = kindOf(() => assertNoExtensionWaiting(waiting()));
    expect(error?.kind).toBe('conflict');
    expect(error?.message).toContain('An extension of 30m is already waiting');
  });
});

describe('who a person is from the policy alone', () => {
  it('is linked or unlinked from the explicit map, and needs the lookup only when the email tag is on', () => {
    const map = { U0ALICE: 'arn:aws:iam::111122223333:user/alice' };
    const mapped = { ...policy, identities: { ...policy.identities, map, emailTag: undefined } } as Policy;
    expect(identityFromMap(mapped, 'U0ALICE')).toBe('linked');
    expect(identityFromMap(mapped, 'U0NOBODY')).toBe('unlinked');
    const tagged = {
      ...mapped,
      identities: { ...mapped.identities, emailTag: { enabled: true, tagKey: 'slack-email' } },
    } as Policy;
    expect(identityFromMap(tagged, 'U0ALICE')).toBe('linked');
    expect(identityFromMap(tagged, 'U0NOBODY')).toBe('lookup');
  });
});

describe('privileged quorum and unique identities', () => {
  const privileged = parsePolicy(`
settings: { auditChannel: C0AUDIT }
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
  deploy:
    rules: [{ apiGroups: [apps], resources: [deployments], verbs: [create, get] }]
    privileged: true
    defaultDuration: 1h
    maxDuration: 4h
  hotfix:
    rules: [{ apiGroups: [apps], resources: [deployments], verbs: [patch] }]
    privileged: true
    approvals: 1
    defaultDuration: 1h
    maxDuration: 4h
clusters:
  dev:
    { region: eu-west-1, accountId: "111122223333", connection: { kubeconfig: {} }, identityMapping: aws-auth,
      namespaces: [{ name: test, approvers: { groups: [S0PLATFORM] }, channel: C0APPROVAL, levels: [view, deploy, hotfix] }] }
`).policy;

  it('needs two approvals for a privileged level unless the level says otherwise', () => {
    const asked = (level: string) =>
      resolveRequest(privileged, { namespace: 'test', level, reason: 'INC-1' }).requiredApprovals;
    expect(asked('view')).toBe(1);
    expect(asked('deploy')).toBe(2);
    expect(asked('hotfix')).toBe(1);
  });

  it('refuses a username another principal holds, and a second username for one principal', () => {
    const live = [
      { principalArn: 'arn:aws:iam::1:user/alice', username: 'eks-access:alice', source: 'request ea-1' },
    ];
    expect(
      kindOf(() =>
        assertUniqueIdentity(
          { cluster: 'dev', principalArn: 'arn:aws:iam::1:role/alice', username: 'eks-access:alice' },
          live,
        ),
      ),
    ).toMatchObject({
      kind: 'forbidden',
      message:
        'Kubernetes user "eks-access:alice" on dev already belongs to another AWS principal (arn:aws:iam::1:user/alice, request ea-1)',
    });
    expect(
      kindOf(() =>
        assertUniqueIdentity(
          { cluster: 'dev', principalArn: 'arn:aws:iam::1:user/alice', username: 'eks-access:1:user:alice' },
          live,
        ),
      ),
    ).toMatchObject({
      kind: 'forbidden',
      message: expect.stringContaining('as Kubernetes user "eks-access:alice"'),
    });
    expect(() =>
      assertUniqueIdentity(
        { cluster: 'dev', principalArn: 'arn:aws:iam::1:user/alice', username: 'eks-access:alice' },
        live,
      ),
    ).not.toThrow();
  });

  it('refuses assumed-role sessions unless the policy accepts them', () => {
    const session = 'arn:aws:sts::111122223333:assumed-role/Dev/alice';
    expect(kindOf(() => assertPrincipalAccepted(privileged, session))).toMatchObject({
      kind: 'forbidden',
      hint: expect.stringContaining('identities.map'),
    });
    expect(() => assertPrincipalAccepted(privileged, 'arn:aws:iam::111122223333:role/Dev')).not.toThrow();
    const allowing = { ...privileged, identities: { ...privileged.identities, allowAssumedRoles: true } };
    expect(() => assertPrincipalAccepted(allowing, session)).not.toThrow();
  });
});

describe('grant state machine', () => {
  it('allows only the documented moves and bumps the version', () => {
    const approved = transition(grant(), 'approved');
    expect(approved.version).toBe(2);
    expect(canTransition('denied', 'approved')).toBe(false);
    expect(kindOf(() => transition(grant({ status: 'expired' }), 'active'))?.kind).toBe('conflict');
  });

  it('extends automatically up to the cap, then refuses', () => {
    const active = grant({ status: 'active' });
    expect(decideExtension(policy, active, 3600)).toEqual({ kind: 'auto', seconds: 3600 });
    const long = grant({
      status: 'active',
      extensions: [{ by: 'U0REQ', seconds: 4 * 3600, at: 0, auto: true }],
    });
    const refused = decideExtension(policy, long, 7200);
    expect(refused.kind).toBe('refused');
    expect(refused.kind === 'refused' && refused.why).toContain('allows 6h');
  });

  it('refuses an extension shorter than 5 minutes or longer than one may be, in the words typed', () => {
    const active = grant({ status: 'active' });
    const tiny = decideExtension(policy, active, 1, '1s');
    expect(tiny).toEqual({
      kind: 'refused',
      why: 'You asked for 1s more; one extension of view is at least 5m and at most 4h.',
    });
    expect(decideExtension(policy, active, 299).kind).toBe('refused');
    expect(decideExtension(policy, active, 300)).toEqual({ kind: 'auto', seconds: 300 });
    const long = decideExtension(policy, active, 600 * 3600, '600h');
    expect(long.kind === 'refused' && long.why).toContain('You asked for 600h more');
  });

  it('offers the extensions the level allows now, within what is left of the cap, starting modestly', () => {
    // view: one extension 5m–4h, 6h in all; the grant below has 1h.
    const active = grant({ status: 'active' });
    expect(extensionChoices(policy, active)).toEqual([300, 900, 1800, 3600, 7200, 14_400]);
    expect(defaultExtension(extensionChoices(policy, active))).toBe(1800);
    // 1h + 4h30m used: 30m left, offered as the largest choice.
    const nearCap = grant({
      status: 'active',
      extensions: [{ by: 'U0REQ', seconds: 16_200, at: 0, auto: true }],
    });
    expect(extensionChoices(policy, nearCap)).toEqual([300, 900, 1800]);
    // 1h + 4h57m used: 3m left, less than the shortest extension: nothing to offer.
    const atCap = grant({
      status: 'active',
      extensions: [{ by: 'U0REQ', seconds: 17_820, at: 0, auto: true }],
    });
    expect(extensionChoices(policy, atCap)).toEqual([]);
    expect(defaultExtension([900, 3600])).toBe(900);
  });

  it('counts extensions claimed but not yet applied against the cap', () => {
    // 1h granted + 4h claimed (the worker has not applied them yet): only 1h is left.
    const claimed = grant({
      status: 'active',
      extensionsApplying: [
        { id: 'xaaa234', by: 'U0REQ', seconds: 2 * 3600, at: 0, auto: true },
        { id: 'xbbb234', by: 'U0REQ', seconds: 2 * 3600, at: 0, auto: true },
      ],
    });
    expect(decideExtension(policy, claimed, 3600).kind).toBe('auto');
    const refused = decideExtension(policy, claimed, 3601);
    expect(refused.kind === 'refused' && refused.why).toContain('(1h left)');
  });
});

describe('a request for what one already holds (issue #19 §9)', () => {
  const NOW = Date.UTC(2026, 0, 1, 12, 0);
  const active = grant({ id: 'ea-held2345', status: 'active', activatedAt: NOW, expiresAt: NOW + 3_600_000 });
  const ask = (level: string, over: Partial<{ cluster: string; slackUserId: string }> = {}) => ({
    cluster: 'dev',
    namespace: 'test',
    level,
    slackUserId: 'U0REQ',
    ...over,
  });

  it('refuses the same level while it can be extended, naming the grant, its end and `extend`', () => {
    const refused = kindOf(() => assertNotAlreadyHeld(policy, [active], ask('view')));
    expect(refused).toMatchObject({
      kind: 'conflict',
      message: 'You already have `view` in test on dev: `ea-held2345` lasts until 2026-01-01 13:00 UTC',
    });
    expect(refused?.hint).toContain('/eks-access extend ea-held2345 for 1h');
  });

  it('lets another level, another person, another cluster, or a grant at its cap through, saying what is held', () => {
    expect(assertNotAlreadyHeld(policy, [active], ask('debug'))).toEqual({
      grantId: 'ea-held2345',
      level: 'view',
      status: 'active',
      expiresAt: NOW + 3_600_000,
    });
    expect(assertNotAlreadyHeld(policy, [active], ask('view', { slackUserId: 'U0BOB' }))).toBeUndefined();
    expect(assertNotAlreadyHeld(policy, [active], ask('view', { cluster: 'prod' }))).toBeUndefined();
    const atCap = { ...active, extensions: [{ by: 'U0REQ', seconds: 5 * 3600, at: 0, auto: true }] };
    expect(assertNotAlreadyHeld(policy, [atCap], ask('view'))?.grantId).toBe('ea-held2345');
    // An approved grant (being set up, or a window to come) cannot be extended: shown, not refused.
    expect(assertNotAlreadyHeld(policy, [{ ...active, status: 'approved' }], ask('view'))?.status).toBe(
      'approved',
    );
    // Pending requests and ended grants hold nothing.
    expect(
      heldAccess(
        [
          { ...active, status: 'pending' },
          { ...active, status: 'expired' },
        ],
        ask('view'),
      ),
    ).toBeUndefined();
  });
});
