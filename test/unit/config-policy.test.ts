import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/config/load.js';
import { privilegeReasons } from '../../src/config/policy.js';
import { AccessError } from '../../src/domain/errors.js';

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
  it('accepts the shipped example, which reproduces the runbook, and warns about secrets and exec', () => {
    const { policy, warnings } = parsePolicy(readFileSync('policy.example.yaml', 'utf8'));
    const level = policy.levels['k8s-test-role'];
    expect(level?.rules?.[0]?.resources).toContain('jobs');
    expect(level?.rules?.[0]?.verbs).not.toContain('describe');
    expect(level?.maxDuration).toBe('4h');
    const ns = policy.clusters['prod-eu']?.namespaces[0];
    expect(ns?.name).toBe('test');
    expect(ns?.approvals).toBe(1);
    expect(ns?.approvers.groups).toHaveLength(1);
    expect(warnings.join('\n')).toMatch(/secrets, pods\/exec/);
  });

  it('fills defaults: no self-approval, reason required, personal usernames', () => {
    const { policy } = parsePolicy(base);
    expect(policy.clusters['dev']?.namespaces[0]?.allowSelfApproval).toBe(false);
    expect(policy.levels['view']?.allowSelfApproval).toBe(false);
    expect(policy.settings.requireReason).toBe(true);
    expect(policy.settings.kubernetesUsername).toBe('eks-access:{iamName}');
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
      parsePolicy(escalating.replace('clusterRole: admin,', 'clusterRole: admin, privileged: true,')),
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
    ).toEqual(['mints service-account tokens']);
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
