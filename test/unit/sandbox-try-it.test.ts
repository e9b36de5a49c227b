// The sandbox's start-up hint says how many approvers to click as, from the one approval count.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sandboxPolicy } from '../../sandbox/policy.js';
import { tryItLines } from '../../sandbox/try-it.js';
import { parsePolicy } from '../../src/config/load.js';

const emulators = {
  accountId: '123456789012',
  region: 'us-east-1',
  adminKubeconfig: '/run/admin.kubeconfig',
};
const example = readFileSync(new URL('../../policy.example.yaml', import.meta.url), 'utf8');

describe('the sandbox start-up hint (issue #19 §6)', () => {
  it('asks for two Approve clicks where the first level of the example is privileged', () => {
    const world = sandboxPolicy(example, 'policy.example.yaml', emulators);
    const text = tryItLines(world.policy, world.namespaces[0], 'U0000ALICE').join('\n');
    expect(text).toContain('/eks-access request test for 2m because trying it');
    expect(text).toContain('then to another one and click Approve again');
    expect(text).toContain('2 approvals (k8s-test-role is a privileged level)');
  });

  it('one approver where one is needed, none where a rule approves at once', () => {
    const policy = (autoApprove: string) =>
      parsePolicy(`
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "111122223333"
    connection: { eks: {} }
    identityMapping: aws-auth
    namespaces:
      - name: test
        approvers: { users: [U0ANA] }
        channel: C0APPROVAL
        levels: [view]
        autoApprove: ${autoApprove}
`).policy;
    expect(tryItLines(policy('[]'), 'test', 'U0ALICE').join('\n')).toMatch(
      /as a requester \(level view\); switch to an approver and click Approve\.$/,
    );
    expect(
      tryItLines(policy('[{ levels: [view], maxDuration: 1h }]'), 'test', 'U0ALICE').join('\n'),
    ).toContain('the policy approves it at once');
  });
});
