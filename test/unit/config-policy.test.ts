import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { privilegeReasons, requiredApprovalsFor, usernameTemplateProblems } from '../../src/config/policy.js';
import { AccessError } from '../../src/domain/errors.js';
import { renderUsername } from '../../src/domain/names.js';

const base = `
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { kubeconfig: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVAL
        levels: [view]
`;

function problemsOf(text: string): string {
  try {
    parsePolicy(text, 'policy.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(AccessError);
    expect((error as AccessError).kind).toBe('misconfigured');
    return (error as AccessError).message;
  }
  throw new Error('expected the policy to be refused');
}

describe('policy file', () => {
  it('accepts the shipped example, which reproduces the runbook and says truthfully that it is privileged', () => {
    const { policy } = parsePolicy(readFileSync('policy.example.yaml', 'utf8'));
    const level = policy.levels['k8s-test-role'];
    expect(level?.rules?.[0]?.resources).toContain('jobs');
    expect(level?.rules?.[0]?.verbs).not.toContain('describe');
    expect(level?.maxDuration).toBe('4h');
    expect(level?.privileged).toBe(true);
    expect(privilegeReasons(level ?? {})).toEqual(
      expect.arrayContaining([
        'writes jobs (runs code as any service account in the namespace)',
        'reads secrets',
      ]),
    );
    expect(policy.levels['view']?.privileged).toBe(false);
    const ns = policy.clusters['prod-eu']?.namespaces[0];
    expect(ns?.name).toBe('test');
    expect(ns?.approvals).toBe(1);
    expect(ns?.approvers.groups).toHaveLength(1);
    // The runbook level needs two approvals, view one.
    expect(requiredApprovalsFor(level ?? { privileged: false }, ns ?? { approvals: 1 })).toBe(2);
    expect(requiredApprovalsFor(policy.levels['view'] ?? { privileged: false }, ns ?? { approvals: 1 })).toBe(
      1,
    );
    expect(policy.settings.auditChannel).toBeDefined();
  });

  it('fills defaults: no self-approval, reason required, personal usernames', () => {
    const { policy } = parsePolicy(base);
    expect(policy.clusters['dev']?.namespaces[0]?.allowSelfApproval).toBe(false);
    expect(policy.levels['view']?.allowSelfApproval).toBe(false);
    expect(policy.settings.requireReason).toBe(true);
    expect(policy.settings.kubernetesUsername).toBe('eks-access:{account}:{kind}:{iamName}');
    expect(policy.identities.allowAssumedRoles).toBe(false);
    expect(policy.settings.iamPath).toBe('/eks-access/');
  });

  it('refuses the runbook verb "describe" and explains why', () => {
    const message = problemsOf(
      base.replace(
        'view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }',
        `view:
    rules: [{ apiGroups: [""], resources: [pods], verbs: [get, describe] }]
    defaultDuration: 1h
    maxDuration: 4h`,
      ),
    );
    expect(message).toContain('levels.view.rules.0.verbs.1');
    expect(message).toContain('kubectl describe uses get and list');
  });

  it('reports every problem at once, each with its path', () => {
    const message = problemsOf(
      base
        .replace('maxDuration: 4h', 'maxDuration: 30m')
        .replace('accountId: "111122223333"', 'accountId: "12"')
        .replace('levels: [view]', 'levels: [view, admin]')
        .replace('channel: C0APPROVAL', 'channel: general'),
    );
    expect(message).toMatch(/4 problem/);
    expect(message).toContain(
      'levels.view.maxDuration: maxDuration (30m) must be at least defaultDuration (1h)',
    );
    expect(message).toContain('clusters.dev.accountId: a 12-digit AWS account id');
    expect(message).toContain('clusters.dev.namespaces.0.levels.1: unknown level "admin"');
    expect(message).toContain('clusters.dev.namespaces.0.channel: Slack channel ids look like C0123ABCD');
  });

  it('parses durations as 30m, 2h, 1d and refuses zero or nonsense', () => {
    expect(() => parsePolicy(base.replace('maxDuration: 4h', 'maxDuration: 1d'))).not.toThrow();
    expect(problemsOf(base.replace('defaultDuration: 1h', 'defaultDuration: 0m'))).toContain(
      'defaultDuration must be a positive duration like 30m, 2h or 1d',
    );
    expect(problemsOf(base.replace('maxDuration: 4h', 'maxDuration: soon'))).toContain(
      'levels.view.maxDuration',
    );
  });

  it('refuses escalating levels unless marked privileged', () => {
    const escalating = base.replace('clusterRole: view', 'clusterRole: admin');
    expect(problemsOf(escalating)).toContain('levels.view.privileged: this level lets its holder escalate');
    expect(() =>
      parsePolicy(
        `settings: { auditChannel: C0AUDIT }\n${escalating.replace('clusterRole: admin,', 'clusterRole: admin, privileged: true, approvals: 1,')}`,
      ),
    ).not.toThrow();
    expect(
      privilegeReasons({
        rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['rolebindings'], verbs: ['create'] }],
      }),
    ).toEqual(['writes rolebindings']);
    expect(
      privilegeReasons({
        rules: [{ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] }],
      }),
    ).toContain('mints service-account tokens');
    expect(
      privilegeReasons({ rules: [{ apiGroups: [''], resources: ['users'], verbs: ['impersonate'] }] }),
    ).toEqual(['verb "impersonate"']);
    expect(privilegeReasons({ clusterRole: 'view' })).toEqual([]);
  });

  it('needs exactly one of clusterRole or rules, and a username template for identityMapping none', () => {
    expect(problemsOf(base.replace('clusterRole: view,', ''))).toContain('give exactly one of clusterRole');
    expect(problemsOf(base.replace('identityMapping: aws-auth', 'identityMapping: none'))).toContain(
      'clusters.dev.usernameTemplate: identityMapping none needs usernameTemplate',
    );
  });

  it('needs fixed text before the first placeholder of kubernetesUsername for aws-auth clusters', () => {
    const bare = `settings: { kubernetesUsername: "{iamName}" }\n${base}`;
    expect(problemsOf(bare)).toContain('settings.kubernetesUsername: cluster dev uses aws-auth');
    expect(() =>
      parsePolicy(bare.replace('identityMapping: aws-auth', 'identityMapping: access-entries')),
    ).not.toThrow();
  });

  it('refuses unknown keys (typos) instead of ignoring them', () => {
    expect(
      problemsOf(base.replace('channel: C0APPROVAL', 'channel: C0APPROVAL\n        aprovals: 2')),
    ).toMatch(/clusters\.dev\.namespaces\.0.*aprovals/);
  });

  it('says so when the YAML itself is broken', () => {
    expect(problemsOf('levels: [unclosed')).toContain('is not valid YAML');
  });

  it('returns a frozen policy so nothing can change it after load', () => {
    const { policy } = parsePolicy(base);
    expect(Object.isFrozen(policy.clusters['dev']?.namespaces)).toBe(true);
  });
});

describe('privileged levels', () => {
  const rule = (apiGroups: string[], resources: string[], verbs: string[]) => ({
    rules: [{ apiGroups, resources, verbs }],
  });
  // Each row: a rule, and whether it makes a level privileged. Wildcards count.
  const table: [string, ReturnType<typeof rule>, boolean][] = [
    ['create pods', rule([''], ['pods'], ['create']), true],
    ['patch pods (swap the image)', rule([''], ['pods'], ['patch']), true],
    ['read pods and logs', rule([''], ['pods', 'pods/log'], ['get', 'list', 'watch']), false],
    ['delete pods', rule([''], ['pods'], ['delete']), false],
    ['create deployments', rule(['apps'], ['deployments'], ['create']), true],
    ['update replicasets', rule(['apps'], ['replicasets'], ['update']), true],
    ['create statefulsets', rule(['apps'], ['statefulsets'], ['create']), true],
    ['create daemonsets', rule(['apps'], ['daemonsets'], ['create']), true],
    ['create jobs', rule(['batch'], ['jobs'], ['create']), true],
    ['create cronjobs', rule(['batch'], ['cronjobs'], ['create']), true],
    ['create replicationcontrollers', rule([''], ['replicationcontrollers'], ['create']), true],
    ['jobs in a group that has none', rule([''], ['jobs'], ['create']), false],
    ['any verb on everything in apps', rule(['apps'], ['*'], ['*']), true],
    ['create anything in any group', rule(['*'], ['*'], ['create']), true],
    ['get secrets', rule([''], ['secrets'], ['get']), true],
    ['list secrets', rule([''], ['secrets'], ['list']), true],
    ['watch secrets', rule([''], ['secrets'], ['watch']), true],
    ['delete secrets only', rule([''], ['secrets'], ['delete']), false],
    ['read everything', rule(['*'], ['*'], ['get', 'list', 'watch']), true],
    ['pods/exec', rule([''], ['pods/exec'], ['create']), true],
    ['pods/exec through GET', rule([''], ['pods/exec'], ['get']), true],
    ['pods/attach', rule([''], ['pods/attach'], ['create']), true],
    ['pods/portforward', rule([''], ['pods/portforward'], ['create']), true],
    ['pods/*', rule([''], ['pods/*'], ['get']), true],
    ['*/exec', rule([''], ['*/exec'], ['create']), true],
    ['nodes/proxy', rule([''], ['nodes/proxy'], ['get']), true],
    ['serviceaccounts/token', rule([''], ['serviceaccounts/token'], ['create']), true],
    ['configmaps', rule([''], ['configmaps'], ['create', 'update', 'delete', 'get']), false],
    ['services', rule([''], ['services'], ['create', 'get', 'list']), false],
    ['write rolebindings', rule(['rbac.authorization.k8s.io'], ['rolebindings'], ['create']), true],
    ['impersonate', rule([''], ['users'], ['impersonate']), true],
  ];
  it.each(table)('%s → privileged: %s', (_name, level, privileged) => {
    expect(privilegeReasons(level).length > 0).toBe(privileged);
  });

  it('knows the built-in ClusterRoles by name and leaves others to the live check', () => {
    expect(privilegeReasons({ clusterRole: 'edit' })).not.toEqual([]);
    expect(privilegeReasons({ clusterRole: 'admin' })).not.toEqual([]);
    expect(privilegeReasons({ clusterRole: 'view' })).toEqual([]);
    // Live rules of a ClusterRole (what doctor and activation pass in) are judged like inline ones.
    expect(
      privilegeReasons({
        clusterRole: 'team-reader',
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      }),
    ).toEqual(['reads secrets']);
    const { warnings } = parsePolicy(base.replace('clusterRole: view', 'clusterRole: team-reader'));
    expect(warnings.join('\n')).toContain('ClusterRole team-reader');
  });

  const debugLevel = `
  debug:
    rules: [{ apiGroups: [batch], resources: [jobs], verbs: [create, get] }]
    defaultDuration: 1h
    maxDuration: 4h`;
  const withDebug = (extra = '') =>
    `settings: { auditChannel: C0AUDIT }\n${base
      .replace('levels:\n', `levels:${debugLevel}${extra}\n`)
      .replace('levels: [view]', 'levels: [view, debug]')}`;

  it('refuses a level that creates jobs unless marked privileged, naming the path and why', () => {
    const message = problemsOf(withDebug());
    expect(message).toContain('levels.debug.privileged');
    expect(message).toContain('writes jobs (runs code as any service account in the namespace)');
  });

  it('needs two approvals for a privileged level by default, and enough approvers to give them', () => {
    const message = problemsOf(withDebug('\n    privileged: true'));
    expect(message).toContain(
      'clusters.dev.namespaces.0.approvers: privileged level "debug" needs 2 approvals but only 1 approver(s) are named',
    );
    const twoApprovers = withDebug('\n    privileged: true').replace(
      'users: [U0APPROVER]',
      'users: [U0ANA, U0BEN]',
    );
    const { policy } = parsePolicy(twoApprovers);
    const ns = policy.clusters['dev']?.namespaces[0];
    expect(
      requiredApprovalsFor(policy.levels['debug'] ?? { privileged: false }, ns ?? { approvals: 1 }),
    ).toBe(2);
    // Explicitly one, validated like any other number.
    const explicit = parsePolicy(withDebug('\n    privileged: true\n    approvals: 1')).policy;
    expect(
      requiredApprovalsFor(explicit.levels['debug'] ?? { privileged: false }, ns ?? { approvals: 1 }),
    ).toBe(1);
    expect(problemsOf(withDebug('\n    privileged: true\n    approvals: 0'))).toContain(
      'levels.debug.approvals',
    );
  });

  it('refuses auto-approval of a privileged level and a privileged level without an audit channel', () => {
    const level = '\n    privileged: true\n    approvals: 1';
    expect(
      problemsOf(
        withDebug(level).replace(
          'levels: [view, debug]',
          'levels: [view, debug]\n        autoApprove: [{ levels: [debug], maxDuration: 1h }]',
        ),
      ),
    ).toContain('level "debug" is privileged: it needs approvers, so it cannot be auto-approved');
    expect(problemsOf(withDebug(level).replace('settings: { auditChannel: C0AUDIT }\n', ''))).toContain(
      'settings.auditChannel: privileged level "debug" is offered in test on dev',
    );
  });
});

describe('unique Kubernetes usernames', () => {
  const map = (entries: Record<string, string>) =>
    `identities:\n  map:\n${Object.entries(entries)
      .map(([id, arn]) => `    ${id}: ${arn}`)
      .join('\n')}\n`;
  const withTemplate = (template: string, entries: Record<string, string>) =>
    `settings: { kubernetesUsername: "${template}" }\n${map(entries)}${base}`;

  it('refuses {iamName} alone when a user and a role share a name, or one name lives in two accounts', () => {
    const userAndRole = problemsOf(
      withTemplate('eks-access:{iamName}', {
        U0ALICE: 'arn:aws:iam::111122223333:user/alice',
        U0ROBOT: 'arn:aws:iam::111122223333:role/alice',
      }),
    );
    expect(userAndRole).toContain(
      'settings.kubernetesUsername: U0ALICE (arn:aws:iam::111122223333:user/alice)',
    );
    expect(userAndRole).toContain('would both be Kubernetes user "eks-access:alice"');
    expect(
      problemsOf(
        withTemplate('eks-access:{iamName}', {
          U0ALICE: 'arn:aws:iam::111122223333:user/alice',
          U0OTHER: 'arn:aws:iam::444455556666:user/alice',
        }),
      ),
    ).toContain('would both be Kubernetes user "eks-access:alice"');
  });

  it('accepts the same principals under the default template, which tells them apart', () => {
    const entries = {
      U0ALICE: 'arn:aws:iam::111122223333:user/alice',
      U0ROBOT: 'arn:aws:iam::111122223333:role/alice',
      U0OTHER: 'arn:aws:iam::444455556666:user/alice',
    };
    const { policy } = parsePolicy(`${map(entries)}${base}`);
    const names = Object.entries(policy.identities.map).map(([slackUserId, principalArn]) =>
      renderUsername(policy.settings.kubernetesUsername, { principalArn, slackUserId }),
    );
    expect(names).toEqual([
      'eks-access:111122223333:user:alice',
      'eks-access:111122223333:role:alice',
      'eks-access:444455556666:user:alice',
    ]);
  });

  it('refuses templates that name nobody, reserved names, unknown placeholders, and {iamName} with the email lookup', () => {
    expect(usernameTemplateProblems('eks-access:ops', { map: {} }, true)[0]).toContain('names nobody');
    expect(usernameTemplateProblems('system:{slackUserId}', { map: {} }, true)[0]).toContain('reserved');
    expect(usernameTemplateProblems('eks-access:{user}:{slackUserId}', { map: {} }, true)[0]).toContain(
      'unknown placeholder(s) {user}',
    );
    expect(
      usernameTemplateProblems(
        'eks-access:{iamName}',
        { map: {}, emailTag: { enabled: true, tagKey: 't' } },
        true,
      )[0],
    ).toContain('with the email lookup on');
    expect(usernameTemplateProblems('eks-access:{slackUserId}', { map: {} }, true)).toEqual([]);
    // {email} is only known at request time: no false collision between mapped principals.
    const twoMapped = {
      U0ALICE: 'arn:aws:iam::111122223333:user/alice',
      U0BOB: 'arn:aws:iam::111122223333:user/bob',
    };
    expect(usernameTemplateProblems('{email}', { map: twoMapped }, false)).toEqual([]);
  });

  it('refuses assumed-role sessions unless the policy allows them explicitly', () => {
    const assumed = `${map({ U0ALICE: 'arn:aws:sts::111122223333:assumed-role/Dev/alice' })}${base}`;
    expect(problemsOf(assumed)).toContain(
      'identities.map.U0ALICE: arn:aws:sts::111122223333:assumed-role/Dev/alice is an assumed-role session',
    );
    const allowed = assumed.replace('identities:\n', 'identities:\n  allowAssumedRoles: true\n');
    const { policy } = parsePolicy(allowed);
    expect(
      renderUsername(policy.settings.kubernetesUsername, {
        principalArn: 'arn:aws:sts::111122223333:assumed-role/Dev/alice',
        slackUserId: 'U0ALICE',
      }),
    ).toBe('eks-access:111122223333:assumed-role:Dev/alice');
  });
});
